{ lib }:
let
  inherit (builtins) length elemAt genList foldl' filter head tail;
in
rec {
  foldr = op: nul: list:
    let
      len = length list;
      go = n: if n == len then nul else op (elemAt list n) (go (n + 1));
    in
    go 0;

  range = first: last:
    if first > last then [ ] else genList (n: first + n) (last - first + 1);

  imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
  imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);

  reverseList = list:
    let l = length list; in genList (n: elemAt list (l - n - 1)) l;

  flatten = x: if builtins.isList x then builtins.concatMap flatten x else [ x ];

  unique = foldl' (acc: e: if builtins.elem e acc then acc else acc ++ [ e ]) [ ];

  take = count: list:
    genList (elemAt list) (lib.min count (length list));

  drop = count: list:
    let l = length list; in
    if count >= l then [ ] else genList (n: elemAt list (n + count)) (l - count);

  last = list: elemAt list (length list - 1);
  init = list: take (length list - 1) list;

  count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;

  findFirst = pred: default: list:
    let found = filter pred list; in if found == [ ] then default else head found;

  zipListsWith = f: a: b:
    genList (n: f (elemAt a n) (elemAt b n)) (lib.min (length a) (length b));
  zipLists = zipListsWith (fst: snd: { inherit fst snd; });

  subtractLists = e: filter (x: !(builtins.elem x e));
  intersectLists = e: filter (x: builtins.elem x e);

  # Sorts by a key computed once per element; equal keys keep their order.
  sortOn = f: list:
    map (p: p.value) (
      builtins.sort (a: b: a.key < b.key || (a.key == b.key && a.index < b.index))
        (imap0 (index: value: { inherit index value; key = f value; }) list)
    );

  groupBy' = op: nul: pred: list:
    builtins.mapAttrs (_: foldl' op nul) (builtins.groupBy pred list);

  partition = builtins.partition;

  listDfs = stopOnCycles: before: list:
    let
      dfs' = us: visited: rest:
        let
          c = filter (x: before x us) visited;
          b = partition (x: before x us) rest;
        in
        if stopOnCycles && (length c > 0) then { cycle = us; loops = c; inherit visited rest; }
        else if length b.right == 0 then { minimal = us; inherit visited rest; }
        else dfs' (head b.right) ([ us ] ++ visited) (tail b.right ++ b.wrong);
    in
    dfs' (head list) [ ] (tail list);

  toposort = before: list:
    let
      dfsthis = listDfs true before list;
      toporest = toposort before (dfsthis.visited ++ dfsthis.rest);
    in
    if length list < 2 then { result = list; }
    else if dfsthis ? cycle then { cycle = reverseList ([ dfsthis.cycle ] ++ dfsthis.visited); inherit (dfsthis) loops; }
    else if toporest ? cycle then toporest
    else { result = [ dfsthis.minimal ] ++ toporest.result; };

  all = builtins.all;
  any = builtins.any;
  concatMap = builtins.concatMap;
  elem = builtins.elem;
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  sum = foldl' builtins.add 0;
  crossLists = f: foldl' (fs: args: builtins.concatMap (f: map f args) fs) [ f ];
}
