# `concatMap` making 3 elements per element of 200 000, and `concatLists`.
let
  n = 200000;
  xs = builtins.genList (i: i) n;
  spread = builtins.concatMap (x: [ x (x + 1) (x * 2) ]) xs;
  chunks = builtins.concatLists (builtins.genList (i: builtins.genList (j: i + j) 10) (n / 10));
in
{
  spread = builtins.length spread;
  chunks = builtins.length chunks;
  sum = builtins.foldl' builtins.add 0 spread;
}
