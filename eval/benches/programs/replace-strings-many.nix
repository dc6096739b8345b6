# `replaceStrings` with many patterns (100, as an escaping table would have)
# over 20 000 strings.
let
  n = 20000;
  chars = builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz0123456789") 36;
  from = builtins.genList (i: "${builtins.elemAt chars (i - i / 36 * 36)}${toString (i / 36)}") 100;
  to = builtins.genList (i: "<${toString i}>") 100;
  items = builtins.genList (i: "x${toString i}-a1-b2-z0-${toString (i * 7)}") n;
  replaced = map (builtins.replaceStrings from to) items;
in
builtins.stringLength (builtins.concatStringsSep "," replaced)
