# Builtins calling primops and primop applications: `foldl' builtins.add`,
# `map (builtins.mul 3)`, `filter builtins.isInt`, `genList toString`, `sort
# builtins.lessThan` on strings, over 200 000 elements.
let
  n = 200000;
  xs = builtins.genList (i: i) n;
  tripled = map (builtins.mul 3) xs;
  ints = builtins.filter builtins.isInt tripled;
  strs = builtins.genList toString n;
in
{
  sum = builtins.foldl' builtins.add 0 ints;
  lens = builtins.foldl' builtins.add 0 (map builtins.stringLength strs);
  first = builtins.head (builtins.sort builtins.lessThan strs);
}
