# `length` and `elemAt` in an index loop over 1 000 000 positions.
let
  n = 100000;
  xs = builtins.genList (i: i) n;
  idx = builtins.genList (i: i * 13 - (i * 13) / n * n) 1000000;
in
builtins.foldl' (acc: i: acc + builtins.elemAt xs i + builtins.length xs) 0 idx
