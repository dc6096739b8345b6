# List-heavy work over 100 000 elements: genList, map, filter, `++`, sort,
# elemAt, length, foldl' and a recursive walk (3 000 deep: CppNix's native
# stack does not take much more; Nix 2.26 stops at a depth of 10 000).
let
  n = 100000;
  xs = builtins.genList (i: (i * 7919) - (i * 7919) / 1000 * 1000) n;
  doubled = map (x: x * 2) xs;
  small = builtins.filter (x: x < 500) doubled;
  sorted = builtins.sort (a: b: a < b) small;
  both = small ++ doubled;
  sumTo = l: i: acc: if i == 3000 then acc else builtins.seq acc (sumTo l (i + 1) (acc + builtins.elemAt l i));
  pairs = builtins.concatMap (x: [ x (x + 1) ]) (builtins.genList (i: i) 20000);
in
{
  count = builtins.length both;
  smallest = builtins.head sorted;
  largest = builtins.elemAt sorted (builtins.length sorted - 1);
  total = builtins.foldl' (a: b: a + b) 0 both;
  walked = sumTo both 0 0;
  pairCount = builtins.length pairs;
  anyBig = builtins.any (x: x > 1990) doubled;
  allEven = builtins.all (x: x / 2 * 2 == x) doubled;
}
