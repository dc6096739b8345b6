# `sort` with a primop comparator: 400 000 pseudo-random integers.
let
  n = 400000;
  xs = builtins.genList (i: let x = i * 7919 + 13; in x - x / 100003 * 100003) n;
  sorted = builtins.sort builtins.lessThan xs;
in
{
  first = builtins.head sorted;
  middle = builtins.elemAt sorted (n / 2);
  last = builtins.elemAt sorted (n - 1);
}
