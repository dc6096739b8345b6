# `any` and `all` with lambdas over 200 000 elements, scanning to the end.
let
  n = 200000;
  xs = builtins.genList (i: i) n;
  rounds = builtins.genList (r: {
    any = builtins.any (x: x == n + r) xs;
    all = builtins.all (x: x >= 0) xs;
  }) 5;
in
rounds
