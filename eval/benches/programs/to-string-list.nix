# `toString` of lists (nested, with numbers, strings, null, bools): 20 000
# lists of 30 elements, and one list of 200 000.
let
  small = builtins.genList (i: toString [ i "a" [ (i + 1) null ] true false 1.5 (builtins.genList (j: j) 20) ]) 20000;
  big = toString (builtins.genList (i: i) 200000);
in
{
  small = builtins.foldl' (acc: s: acc + builtins.stringLength s) 0 small;
  big = builtins.stringLength big;
}
