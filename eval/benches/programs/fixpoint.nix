# `lib.fix`-style overlays: a package set of 6 000 attributes extended by
# 30 overlays, each overriding some names from `prev` and reading `final`.
let
  fix = f: let x = f x; in x;
  extends = overlay: f: final: let prev = f final; in prev // overlay final prev;
  n = 6000;
  base = final: builtins.listToAttrs (builtins.genList (i: {
    name = "p${toString i}";
    value = { version = i; deps = if i == 0 then 0 else final."p${toString (i - 1)}".deps + 1; };
  }) n);
  overlay = k: final: prev: builtins.listToAttrs (builtins.genList (j: let name = "p${toString (j * 30 + k)}"; in {
    inherit name;
    value = prev.${name} // { version = prev.${name}.version + 1; };
  }) (n / 30));
  overlays = builtins.genList overlay 30;
  set = fix (builtins.foldl' (f: o: extends o f) base overlays);
in
{
  deps = set."p${toString (n - 1)}".deps;
  versions = builtins.foldl' (acc: name: acc + set.${name}.version) 0 (builtins.attrNames set);
}
