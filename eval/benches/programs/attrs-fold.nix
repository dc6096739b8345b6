# An attribute-set-heavy fold over 100 000 elements: every step builds a
# record, selects from it and merges with `//` (deepSeq keeps the
# accumulator evaluated, or CppNix overflows its stack forcing a chain of
# 100 000 thunks at the end); then it builds and probes a 100 000-name set.
let
  n = 100000;
  xs = builtins.genList (i: i) n;
  step =
    acc: i:
    let
      next = acc // {
        count = acc.count + 1;
        sum = acc.sum + i;
        max = if i > acc.max then i else acc.max;
        parity =
          if i - (i / 2) * 2 == 0 then
            {
              even = acc.parity.even + 1;
              odd = acc.parity.odd;
            }
          else
            acc.parity // { odd = acc.parity.odd + 1; };
      };
    in
    builtins.deepSeq next next;
  stats = builtins.foldl' step {
    count = 0;
    sum = 0;
    max = 0;
    parity = { even = 0; odd = 0; };
    label = "stats";
  } xs;
  table = builtins.listToAttrs (map (i: { name = "k${toString i}"; value = i; }) xs);
  probed = builtins.foldl' (s: i: s + table."k${toString i}") 0 xs;
in
{
  inherit (stats) count sum max parity;
  inherit probed;
  size = builtins.length (builtins.attrNames table);
}
