# `catAttrs` over 300 000 sets, half of them without the name.
let
  n = 300000;
  sets = builtins.genList (i: if i / 2 * 2 == i then { a = i; b = 1; } else { b = i; }) n;
  got = builtins.genList (_: builtins.catAttrs "a" sets) 3;
in
map builtins.length got
