# `attrNames` and `attrValues` of sets of 100 000 keys built in a scrambled order.
let
  n = 100000;
  set = builtins.listToAttrs (builtins.genList (i: let x = i * 7919 - (i * 7919) / n * n; in { name = "k${toString x}"; value = i; }) n);
  names = builtins.genList (_: builtins.attrNames set) 5;
  values = builtins.genList (_: builtins.attrValues set) 5;
in
{
  names = map builtins.length names;
  first = builtins.head (builtins.head names);
  sum = builtins.foldl' builtins.add 0 (builtins.head values);
}
