# List utilities in the style of lib.lists: uniqueness, flattening,
# ranges, partitioning, grouping, sorting by a key, topological sorting.
let
  lib = import ./lib;
  inherit (lib) unique flatten range partition groupBy' sortOn take drop last init count
    findFirst zipLists zipListsWith subtractLists intersectLists foldr reverseList imap0 imap1
    toposort crossLists sum optional optionals;

  people = [
    { name = "ada"; age = 36; team = "compilers"; }
    { name = "grace"; age = 45; team = "compilers"; }
    { name = "alan"; age = 41; team = "theory"; }
    { name = "edsger"; age = 36; team = "theory"; }
    { name = "barbara"; age = 30; team = "languages"; }
  ];
in
{
  unique = unique [ 3 1 3 2 1 [ 1 ] [ 1 ] { a = 1; } { a = 1; } ];
  flatten = flatten [ 1 [ 2 [ 3 [ 4 ] ] ] [ ] [ [ [ ] ] ] 5 ];
  ranges = { up = range 1 5; single = range 3 3; empty = range 5 1; negative = range (-2) 2; };
  partitioned = partition (p: p.age > 38) people;
  byTeam = builtins.mapAttrs (_: ps: map (p: p.name) ps) (builtins.groupBy (p: p.team) people);
  ageSums = groupBy' (acc: p: acc + p.age) 0 (p: p.team) people;
  byAge = map (p: p.name) (sortOn (p: p.age) people);
  byAgeThenName = map (p: p.name) (builtins.sort (a: b: a.age < b.age || (a.age == b.age && a.name < b.name)) people);
  slicing = {
    take = take 2 [ 1 2 3 ];
    takeMore = take 5 [ 1 2 ];
    drop = drop 2 [ 1 2 3 ];
    dropAll = drop 9 [ 1 2 ];
    last = last [ 1 2 3 ];
    init = init [ 1 2 3 ];
  };
  counting = { adults = count (p: p.age >= 40) people; total = sum (map (p: p.age) people); };
  found = { first = (findFirst (p: p.team == "theory") null people).name; none = findFirst (p: p.age > 100) "nobody" people; };
  zipped = zipLists [ 1 2 3 ] [ "a" "b" ];
  zippedWith = zipListsWith (a: b: a * b) [ 1 2 3 ] [ 4 5 6 ];
  setOps = { minus = subtractLists [ 2 4 ] (range 1 6); both = intersectLists [ 2 4 9 ] (range 1 6); };
  folds = {
    right = foldr (x: acc: "(${toString x} ${acc})") "nil" [ 1 2 3 ];
    left = builtins.foldl' (acc: x: "(${acc} ${toString x})") "nil" [ 1 2 3 ];
    reversed = reverseList [ 1 2 3 ];
  };
  indexed = { zero = imap0 (i: x: "${toString i}:${x}") [ "a" "b" ]; one = imap1 (i: x: i * x) [ 10 20 ]; };
  topo = {
    sorted = toposort (a: b: lib.hasPrefix a b) [ "/a/b/c" "/a" "/a/b" "/x" ];
    cycle = toposort (a: b: true) [ 1 2 ];
  };
  cross = crossLists (a: b: "${a}${toString b}") [ [ "x" "y" ] [ 1 2 ] ];
  optionals = optional true "yes" ++ optional false "no" ++ optionals true [ 1 2 ];
  lazyElements = builtins.length (map (x: throw "not forced") (range 1 100));
  concatMapped = builtins.concatMap (p: if p.age < 40 then [ p.name ] else [ ]) people;
  everyAny = { all = builtins.all (p: p.age > 20) people; any = builtins.any (p: p.team == "art") people; };
  listToAttrsFirstWins = builtins.listToAttrs (map (p: { name = p.team; value = p.name; }) people);
}
