# String interpolation and `+` concatenation in loops: 200 000 interpolated
# strings, and a fold that appends to a short accumulator.
let
  n = 200000;
  items = builtins.genList (i: "${toString i}:${if i / 2 * 2 == i then "even" else "odd"}/${"x"}") n;
  lens = builtins.foldl' (acc: s: acc + builtins.stringLength s) 0 items;
  chained = builtins.foldl' (acc: i: let s = acc + "ab${toString i}"; l = builtins.stringLength s; in if l > 20 then builtins.substring (l - 20) 20 s else s) "" (builtins.genList (i: i) n);
in
{
  inherit lens chained;
}
