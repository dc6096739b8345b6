# A package set written the way nixpkgs writes one, for the instantiation
# benchmark: a fixed point over `callPackage`, overlays, a
# `stdenv.mkDerivation`-style wrapper that adds attributes, `override` and
# `overrideAttrs`, and a few thousand derivations depending on one another.
# `nix-instantiate` (and `tvix`) print every `drvPath` of `packages`.
{ size ? 3000, system ? "x86_64-linux" }:
let
  lib = rec {
    fix = f: let x = f x; in x;
    extends = overlay: f: self: let super = f self; in super // overlay self super;
    composeManyExtensions = builtins.foldl' (f: g: self: super:
      let fApplied = f self super; in fApplied // g self (super // fApplied)) (self: super: { });
    functionArgs = f: if builtins.isAttrs f then f.__functionArgs or (builtins.functionArgs f.__functor) else builtins.functionArgs f;
    makeOverridable = f: origArgs:
      let
        result = f origArgs;
        overrideWith = newArgs: origArgs // (if builtins.isFunction newArgs then newArgs origArgs else newArgs);
      in
      if builtins.isAttrs result then
        result // { override = newArgs: makeOverridable f (overrideWith newArgs); }
      else result;
    callPackageWith = autoArgs: fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
        fargs = builtins.functionArgs f;
        allArgs = builtins.intersectAttrs fargs autoArgs // args;
      in
      makeOverridable f allArgs;
    optionalString = cond: s: if cond then s else "";
    concatMapStringsSep = sep: f: list: builtins.concatStringsSep sep (map f list);
    range = first: last: if first > last then [ ] else builtins.genList (n: first + n) (last - first + 1);
    attrByPath = path: default: set:
      if path == [ ] then set
      else
        let name = builtins.head path; in
        if set ? ${name} then attrByPath (builtins.tail path) default set.${name} else default;
  };

  # The wrapper every package goes through, as stdenv.mkDerivation: it
  # fills in defaults, flattens dependencies and keeps the arguments for
  # overrideAttrs.
  mkDerivation = stdenv: attrs:
    let
      finalAttrs = {
        builder = "/bin/sh";
        args = [ "-c" "echo building ${attrs.pname}; mkdir $out" ];
        inherit system;
        name = "${attrs.pname}-${attrs.version}";
        outputs = attrs.outputs or [ "out" ];
        buildInputs = attrs.buildInputs or [ ];
        nativeBuildInputs = (attrs.nativeBuildInputs or [ ]) ++ [ stdenv.shell ];
        propagatedBuildInputs = attrs.propagatedBuildInputs or [ ];
        doCheck = attrs.doCheck or false;
        configureFlags = lib.concatMapStringsSep " " (x: "--with-${x.pname or "x"}") (attrs.buildInputs or [ ]);
        meta = (attrs.meta or { }) // { available = true; };
      } // builtins.removeAttrs attrs [ "meta" "passthru" ];
      drv = derivation (builtins.removeAttrs finalAttrs [ "meta" "passthru" "doCheck" ] // {
        doCheck = lib.optionalString finalAttrs.doCheck "1";
      });
    in
    drv // (attrs.passthru or { }) // {
      inherit (finalAttrs) pname version meta;
      overrideAttrs = f: mkDerivation stdenv (attrs // f attrs);
    };

  # The packages: each depends on a few earlier ones, through callPackage.
  generated = self:
    builtins.listToAttrs (map (i: {
      name = "pkg${toString i}";
      value = self.callPackage ({ stdenv, lib' ? lib }@args:
        stdenv.mkDerivation {
          pname = "pkg${toString i}";
          version = "1.${toString (i - (i / 10) * 10)}";
          buildInputs = map (j: self."pkg${toString j}") (lib.range (if i > 3 then i - 3 else 1) (i - 1));
          outputs = if i - (i / 7) * 7 == 0 then [ "out" "dev" "lib" ] else [ "out" ];
          passthru.tests = { simple = i; };
          meta.description = "package number ${toString i}";
        }) { };
    }) (lib.range 1 size));

  base = self: {
    callPackage = lib.callPackageWith self;
    stdenv = {
      shell = derivation { name = "bash-5.2"; builder = "/bin/sh"; inherit system; };
      mkDerivation = mkDerivation self.stdenv;
    };
  } // generated self;

  overlays = [
    (self: super: {
      pkg10 = super.pkg10.overrideAttrs (old: { version = "2.0"; patches = [ "fix.patch" ]; });
      pkg20 = super.pkg20.override { };
    })
    (self: super: {
      withDoc = builtins.mapAttrs (n: p: p // { doc = "documented ${n}"; }) {
        inherit (super) pkg1 pkg2 pkg3;
      };
    })
  ];

  pkgs = lib.fix (lib.extends (lib.composeManyExtensions overlays) base);
in
{
  packages = builtins.listToAttrs (map (i: {
    name = "pkg${toString i}";
    value = pkgs."pkg${toString i}";
  }) (lib.range 1 size));
}
