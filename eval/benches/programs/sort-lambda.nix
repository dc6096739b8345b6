# `sort` with a lambda comparator over records: 100 000 elements, compared
# by one field then another.
let
  n = 100000;
  xs = builtins.genList (i: {
    k = let x = i * 7919 + 13; in x - x / 1009 * 1009;
    id = i;
  }) n;
  sorted = builtins.sort (a: b: a.k < b.k || (a.k == b.k && a.id > b.id)) xs;
in
{
  first = builtins.head sorted;
  last = builtins.elemAt sorted (n - 1);
}
