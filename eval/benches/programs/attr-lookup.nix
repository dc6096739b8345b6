# `hasAttr`, `getAttr`, `?` and `.` with dynamic names in a set of 100 000
# keys: 400 000 look-ups.
let
  n = 100000;
  set = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = i; }) n);
  keys = builtins.genList (i: "k${toString (i * 3)}") n;
in
{
  has = builtins.length (builtins.filter (k: builtins.hasAttr k set) keys);
  get = builtins.foldl' (acc: k: acc + (if set ? ${k} then builtins.getAttr k set else 0)) 0 keys;
  sel = builtins.foldl' (acc: k: acc + set.${k} or 1) 0 keys;
}
