# `elem`: 2 000 look-ups in a list of 20 000 integers, and in a list of strings.
let
  n = 20000;
  xs = builtins.genList (i: i * 3) n;
  strs = builtins.genList (i: "s${toString i}") 2000;
  hits = builtins.filter (i: builtins.elem i xs) (builtins.genList (i: i * 29) 2000);
  strHits = builtins.filter (i: builtins.elem "s${toString (i * 3)}" strs) (builtins.genList (i: i) 1000);
in
{
  hits = builtins.length hits;
  strHits = builtins.length strHits;
}
