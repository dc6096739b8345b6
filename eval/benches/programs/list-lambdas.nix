# `map`, `filter` and `foldl'` with lambdas over 300 000 elements.
let
  n = 300000;
  xs = builtins.genList (i: i) n;
  mapped = map (x: x * 3 + 1) xs;
  kept = builtins.filter (x: x - x / 2 * 2 == 0) mapped;
  folded = builtins.foldl' (acc: x: if x > acc then x else acc) 0 kept;
in
{
  inherit folded;
  count = builtins.length kept;
  sum = builtins.foldl' (a: b: a + b) 0 mapped;
}
