# `mapAttrs` over 100 000 keys, twice, then every value forced.
let
  n = 100000;
  set = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = i; }) n);
  doubled = builtins.mapAttrs (name: v: v * 2) set;
  named = builtins.mapAttrs (name: v: "${name}=${toString v}") doubled;
in
builtins.foldl' (acc: v: acc + builtins.stringLength v) 0 (builtins.attrValues named)
