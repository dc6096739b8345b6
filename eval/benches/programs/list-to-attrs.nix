# `listToAttrs` of 100 000 pairs, three times (the second with repeated names,
# where the first wins).
let
  n = 100000;
  pairs = builtins.genList (i: { name = "k${toString i}"; value = i; }) n;
  a = builtins.listToAttrs pairs;
  b = builtins.listToAttrs (builtins.genList (i: { name = "k${toString (i / 2)}"; value = i; }) n);
  c = builtins.listToAttrs (map (p: { name = p.name + "x"; inherit (p) value; }) pairs);
in
{
  a = a.k99999;
  b = b.k49999;
  c = c.k5x;
}
