# `hashString` with four algorithms over 20 000 short strings and one of 10 MB.
let
  items = builtins.genList (i: "item ${toString i}") 20000;
  big = builtins.concatStringsSep "" (builtins.genList (i: "0123456789abcdef${toString i}") 500000);
  algos = [ "md5" "sha1" "sha256" "sha512" ];
in
{
  small = map (a: builtins.stringLength (builtins.concatStringsSep "" (map (builtins.hashString a) items))) algos;
  big = map (a: builtins.hashString a big) algos;
}
