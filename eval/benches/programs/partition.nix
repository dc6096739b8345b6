# `partition` of 300 000 elements, three times.
let
  n = 300000;
  xs = builtins.genList (i: i) n;
  parts = builtins.genList (k: builtins.partition (x: x - x / (k + 2) * (k + 2) == 0) xs) 3;
in
map (p: { right = builtins.length p.right; wrong = builtins.length p.wrong; }) parts
