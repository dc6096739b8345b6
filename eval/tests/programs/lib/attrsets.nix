{ lib }:
let
  inherit (builtins) attrNames listToAttrs mapAttrs isAttrs foldl' filter length elemAt head tail;
in
rec {
  nameValuePair = name: value: { inherit name value; };

  filterAttrs = pred: set:
    listToAttrs (map (name: nameValuePair name set.${name})
      (filter (name: pred name set.${name}) (attrNames set)));

  mapAttrs' = f: set: listToAttrs (map (name: f name set.${name}) (attrNames set));

  mapAttrsToList = f: set: map (name: f name set.${name}) (attrNames set);

  genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);

  attrByPath = path: default: set:
    if path == [ ] then set
    else if isAttrs set && set ? ${head path} then attrByPath (tail path) default set.${head path}
    else default;

  hasAttrByPath = path: set:
    path == [ ] || (isAttrs set && set ? ${head path} && hasAttrByPath (tail path) set.${head path});

  setAttrByPath = path: value:
    if path == [ ] then value else { ${head path} = setAttrByPath (tail path) value; };

  mapAttrsRecursiveCond = cond: f: set:
    let
      recurse = path: mapAttrs (name: value:
        if isAttrs value && cond value then recurse (path ++ [ name ]) value
        else f (path ++ [ name ]) value);
    in
    recurse [ ] set;

  mapAttrsRecursive = mapAttrsRecursiveCond (_: true);

  recursiveUpdateUntil = pred: lhs: rhs:
    let
      f = attrPath: builtins.zipAttrsWith (n: values:
        let here = attrPath ++ [ n ]; in
        if length values == 1
          || pred here (elemAt values 1) (head values)
        then head values
        else f here values);
    in
    f [ ] [ rhs lhs ];

  recursiveUpdate = recursiveUpdateUntil (path: lhs: rhs: !(isAttrs lhs && isAttrs rhs));

  foldAttrs = op: nul: list_of_attrs:
    foldl' (a: n: foldl' (acc: name:
      acc // { ${name} = op n.${name} (a.${name} or nul); }) a (attrNames n))
      { } (lib.reverseList list_of_attrs);

  zipAttrsWithNames = names: f: sets:
    listToAttrs (map (name: {
      inherit name;
      value = f name (builtins.catAttrs name sets);
    }) names);

  zipAttrs = builtins.zipAttrsWith (name: values: values);

  collect = pred: attrs:
    if pred attrs then [ attrs ]
    else if isAttrs attrs then builtins.concatMap (collect pred) (builtins.attrValues attrs)
    else [ ];

  cartesianProduct = attrsOfLists:
    foldl' (listOfAttrs: attrName:
      builtins.concatMap (attrs: map (v: attrs // { ${attrName} = v; }) attrsOfLists.${attrName})
        listOfAttrs) [ { } ] (attrNames attrsOfLists);

  optionalAttrs = cond: as: if cond then as else { };

  attrsToList = mapAttrsToList nameValuePair;

  updateManyAttrsByPath = updates: value:
    foldl' (acc: u: recursiveUpdate acc (setAttrByPath u.path (u.update (attrByPath u.path null acc)))) value updates;
}
