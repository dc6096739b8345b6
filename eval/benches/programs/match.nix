# `match` over 100 000 strings with a pattern with groups, cached once.
let
  n = 100000;
  items = builtins.genList (i: "pkg-${toString i}.${toString (i / 7)}-r${toString (i / 100)}") n;
  parsed = map (builtins.match "([a-z]+)-([0-9]+)\\.([0-9]+)-r([0-9]+)") items;
  misses = builtins.filter (m: m == null) (map (builtins.match "[0-9]+") items);
in
{
  count = builtins.length (builtins.filter (m: m != null) parsed);
  last = builtins.elemAt parsed (n - 1);
  misses = builtins.length misses;
}
