# `removeAttrs`: 50 000 names out of a set of 100 000, and 3 names out of
# 20 000 small sets.
let
  n = 100000;
  big = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = i; }) n);
  gone = builtins.removeAttrs big (builtins.genList (i: "k${toString (i * 2)}") (n / 2));
  small = builtins.genList (i: builtins.removeAttrs { a = i; b = 2; c = 3; d = 4; e = 5; } [ "a" "c" "z" ]) 20000;
in
{
  left = builtins.length (builtins.attrNames gone);
  small = builtins.length (builtins.filter (s: s ? b) small);
}
