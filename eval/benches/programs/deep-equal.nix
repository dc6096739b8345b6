# Deep `==` of big equal structures (lists of records of lists), built twice.
let
  n = 100000;
  mk = k: builtins.genList (i: { id = i; name = "n${toString i}"; xs = [ i (i + k) ]; sub = { v = i; }; }) n;
  a = mk 1;
  b = mk 1;
  c = mk 2;
in
{
  same = a == b;
  differ = a == c;
  lists = builtins.genList (i: a == b) 3;
}
