# `zipAttrsWith` over 20 000 sets of 10 keys each.
let
  n = 20000;
  sets = builtins.genList (i: builtins.listToAttrs (builtins.genList (j: { name = "a${toString ((i + j) - (i + j) / 50 * 50)}"; value = i * j; }) 10)) n;
  zipped = builtins.zipAttrsWith (name: values: builtins.length values) sets;
in
zipped
