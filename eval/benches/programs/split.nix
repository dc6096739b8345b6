# `split` over 100 000 strings into pieces and groups.
let
  n = 100000;
  items = builtins.genList (i: "a.${toString i}-b.${toString (i / 3)}-c") n;
  parts = map (builtins.split "([.-])") items;
in
{
  pieces = builtins.foldl' (acc: p: acc + builtins.length p) 0 parts;
  last = builtins.elemAt parts (n - 1);
}
