# `concatStringsSep` over 100 000 strings, ten times with different
# separators, and `concatStrings` of the parts.
let
  n = 100000;
  items = builtins.genList (i: "item-${toString i}") n;
  joins = builtins.genList (j: builtins.concatStringsSep (toString j) items) 10;
in
{
  lengths = map builtins.stringLength joins;
  total = builtins.stringLength (builtins.concatStringsSep "" joins);
}
