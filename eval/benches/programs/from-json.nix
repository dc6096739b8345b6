# `fromJSON` of a 10 MB document (data.json, written by the bench).
let
  doc = builtins.fromJSON (builtins.readFile ./data.json);
in
{
  count = builtins.length doc.items;
  last = (builtins.elemAt doc.items (builtins.length doc.items - 1)).name;
}
