# `toJSON` of a 10 MB document built here: records with strings, numbers,
# lists and nested sets.
let
  n = 60000;
  items = builtins.genList (i: {
    name = "item-${toString i}";
    id = i;
    ratio = i / 3.0;
    tags = [ "a" "b\n" (toString (i / 7)) ];
    meta = { ok = i / 2 * 2 == i; parent = null; };
  }) n;
  json = builtins.toJSON { inherit items; };
in
builtins.stringLength json
