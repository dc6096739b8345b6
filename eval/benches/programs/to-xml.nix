# `toXML` of 30 000 records.
let
  items = builtins.genList (i: { name = "n<${toString i}>"; id = i; ok = true; tags = [ "a" null 1.5 ]; }) 30000;
in
builtins.stringLength (builtins.toXML items)
