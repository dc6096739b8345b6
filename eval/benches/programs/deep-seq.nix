# `deepSeq` of a nested structure of 600 000 thunks.
let
  n = 100000;
  tree = builtins.genList (i: { a = i + 1; b = [ (i * 2) "x${toString i}" ]; c = { d = i - 1; }; }) n;
in
builtins.deepSeq tree (builtins.length tree)
