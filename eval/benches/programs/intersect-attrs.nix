# `intersectAttrs` of sets of 100 000 and 50 000 keys, both ways, and many
# small sets against a big one (as `callPackage` does).
let
  n = 100000;
  big = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = i; }) n);
  half = builtins.listToAttrs (builtins.genList (i: { name = "k${toString (i * 2)}"; value = i; }) (n / 2));
  small = builtins.genList (i: builtins.intersectAttrs { "k${toString i}" = null; "k${toString (i * 3 + 1)}" = null; x = null; } big) 20000;
in
{
  a = builtins.length (builtins.attrNames (builtins.intersectAttrs big half));
  b = builtins.length (builtins.attrNames (builtins.intersectAttrs half big));
  small = builtins.foldl' (acc: s: acc + builtins.length (builtins.attrNames s)) 0 small;
}
