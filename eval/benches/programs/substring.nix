# `substring` and `stringLength` over a 100 kB string, 300 000 times.
let
  text = builtins.concatStringsSep "" (builtins.genList (i: "line ${toString i}\n") 10000);
  len = builtins.stringLength text;
  picks = builtins.genList (i: builtins.substring (i * 37 - (i * 37) / len * len) 8 text) 300000;
in
{
  inherit len;
  total = builtins.foldl' (acc: s: acc + builtins.stringLength s) 0 picks;
}
