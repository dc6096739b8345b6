# String building: interpolation in a loop, concatStringsSep over 100 000
# strings, `+` concatenation, and toString of numbers.
let
  n = 100000;
  xs = builtins.genList (i: i) n;
  items = map (i: "item-${toString i}:${if i / 2 * 2 == i then "even" else "odd"}") xs;
  joined = builtins.concatStringsSep "," items;
  appended = builtins.foldl' (s: i: s + (if i / 1000 * 1000 == i then "<${toString i}>" else "")) "" xs;
  replaced = builtins.replaceStrings [ "item-" ] [ "i" ] (builtins.concatStringsSep "" (builtins.genList (i: "item-${toString i}") 10000));
in
{
  length = builtins.stringLength joined;
  inherit appended;
  replacedLength = builtins.stringLength replaced;
  sample = builtins.substring 0 40 joined;
}
