# `genList` of 1 000 000 elements, each forced, and `length`.
let
  n = 1000000;
  xs = builtins.genList (i: i * 2) n;
in
{
  length = builtins.length xs;
  sum = builtins.foldl' builtins.add 0 xs;
}
