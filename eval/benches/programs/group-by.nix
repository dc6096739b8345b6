# `groupBy` of 200 000 elements into 1 000 groups.
let
  n = 200000;
  xs = builtins.genList (i: i) n;
  groups = builtins.groupBy (x: toString (x - x / 1000 * 1000)) xs;
in
{
  count = builtins.length (builtins.attrNames groups);
  size = builtins.length groups."999";
}
