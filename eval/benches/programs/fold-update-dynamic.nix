# `foldl'` that grows a set with `acc // { "k${…}" = …; }`: a dynamic key per
# step, so each step copies the set (quadratic in CppNix and here).
let
  n = 8000;
  set = builtins.foldl' (acc: i: acc // { "k${toString i}" = i; }) { } (builtins.genList (i: i) n);
in
{
  size = builtins.length (builtins.attrNames set);
  sample = set.k4321;
}
