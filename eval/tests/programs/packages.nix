# A package set in the style of nixpkgs: callPackage fills a function's
# arguments from the set (functionArgs + intersectAttrs), packages can be
# overridden (override, overrideAttrs), and scopes nest. No derivations:
# a "package" is a plain set, so no store is needed.
let
  lib = import ./lib;

  makeOverridable = f: args:
    let
      result = f args;
      overrideWith = newArgs: makeOverridable f (args // (if lib.isFunction newArgs then newArgs args else newArgs));
    in
    result // {
      override = overrideWith;
      overrideAttrs = g: result // g result // { override = overrideWith; };
    };

  mkPackage = { pname, version, buildInputs ? [ ], flags ? [ ], meta ? { } }: {
    inherit pname version buildInputs flags meta;
    name = "${pname}-${version}";
    inputNames = map (p: p.name) buildInputs;
  };

  makeScope = newScope: f:
    let self = f self // { newScope = scope: newScope (self // scope); callPackage = self.newScope { }; }; in self;

  callPackageWith = autoArgs: fn: args:
    let
      f = if builtins.isFunction fn then fn else import fn;
      fargs = builtins.functionArgs f;
      allArgs = builtins.intersectAttrs fargs autoArgs // args;
      missing = builtins.filter (n: !(fargs.${n}) && !(allArgs ? ${n})) (builtins.attrNames fargs);
    in
    if missing != [ ] then throw "callPackage: missing arguments ${builtins.concatStringsSep ", " missing}"
    else makeOverridable f allArgs;

  pkgs = lib.fix (self:
    let callPackage = callPackageWith self; in {
      inherit mkPackage callPackage;
      zlib = callPackage ({ mkPackage }: mkPackage { pname = "zlib"; version = "1.3.1"; }) { };
      openssl = callPackage ({ mkPackage, zlib, withZlib ? true }:
        mkPackage { pname = "openssl"; version = "3.0.13"; buildInputs = lib.optional withZlib zlib; }) { };
      curl = callPackage ({ mkPackage, openssl, zlib, http2 ? false }:
        mkPackage {
          pname = "curl";
          version = "8.6.0";
          buildInputs = [ openssl zlib ];
          flags = [ "--with-ssl" ] ++ lib.optional http2 "--with-nghttp2";
        }) { };
      curlHttp2 = self.curl.override { http2 = true; };
      curlNoZlibSsl = self.curl.override (old: { openssl = old.openssl.override { withZlib = false; }; });
      patchedCurl = self.curl.overrideAttrs (old: { version = old.version + "-p1"; name = "curl-patched"; });
      pythonPackages = makeScope (extra: callPackageWith (self // extra)) (ps: {
        python = self.mkPackage { pname = "python"; version = "3.11.8"; };
        requests = ps.callPackage ({ mkPackage, python, urllib3 }:
          mkPackage { pname = "requests"; version = "2.31.0"; buildInputs = [ python urllib3 ]; }) { };
        urllib3 = ps.callPackage ({ mkPackage, python }:
          mkPackage { pname = "urllib3"; version = "2.2.1"; buildInputs = [ python ]; }) { };
      });
    });

  show = p: { inherit (p) name inputNames flags; };
in
{
  zlib = show pkgs.zlib;
  openssl = show pkgs.openssl;
  curl = show pkgs.curl;
  curlHttp2 = show pkgs.curlHttp2;
  curlNoZlibSsl = (show pkgs.curlNoZlibSsl) // { opensslInputs = (builtins.head pkgs.curlNoZlibSsl.buildInputs).inputNames; };
  patchedCurl = { inherit (pkgs.patchedCurl) name version; stillOverridable = (pkgs.patchedCurl.override { http2 = true; }).flags; };
  requests = show pkgs.pythonPackages.requests;
  missingArgument = (builtins.tryEval (callPackageWith { } ({ a, b ? 1 }: a) { })).success;
  defaultUsed = (callPackageWith { } ({ a ? "default" }: { value = a; }) { }).value;
  explicitWins = (callPackageWith { a = "auto"; } ({ a }: { value = a; }) { a = "explicit"; }).value;
  functionArgs = builtins.functionArgs ({ mkPackage, zlib ? null, ... }: null);
}
