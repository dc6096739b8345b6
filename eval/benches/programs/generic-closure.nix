# `genericClosure` over 100 000 keys: every item names two successors, most
# of them already seen.
let
  n = 100000;
  closure = builtins.genericClosure {
    startSet = [ { key = 0; } ];
    operator =
      item:
      let
        k = item.key;
      in
      [
        { key = if k + 1 < n then k + 1 else 0; }
        { key = (k * 31 + 7) - (k * 31 + 7) / n * n; }
      ];
  };
in
{
  count = builtins.length closure;
  last = (builtins.elemAt closure (builtins.length closure - 1)).key;
}
