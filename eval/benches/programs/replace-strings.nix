# `replaceStrings` over 100 000 short strings and over one string of 1.5 MB
# built with `concatStringsSep`.
let
  n = 100000;
  items = builtins.genList (i: "item-${toString i}-end") n;
  each = map (builtins.replaceStrings [ "item-" "-end" ] [ "i" "" ]) items;
  big = builtins.replaceStrings [ "item-" "," ] [ "" ";" ] (builtins.concatStringsSep "," items);
in
{
  each = builtins.stringLength (builtins.concatStringsSep "" each);
  big = builtins.stringLength big;
}
