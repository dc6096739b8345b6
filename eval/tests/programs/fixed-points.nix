# Fixed points and overlays: a package set built as a fixed point,
# extended by overlays that see the final set (`final`) and the one
# before them (`prev`), as nixpkgs does.
let
  lib = import ./lib;
  inherit (lib) fix extends composeExtensions composeManyExtensions makeExtensible;

  # A "package": just a set describing itself.
  mkPackage = { pname, version, deps ? [ ] }: {
    inherit pname version deps;
    name = "${pname}-${version}";
    closure = lib.unique (builtins.concatMap (d: d.closure) deps ++ [ "${pname}-${version}" ]);
  };

  base = final: {
    inherit mkPackage;
    zlib = final.mkPackage { pname = "zlib"; version = "1.3"; };
    openssl = final.mkPackage { pname = "openssl"; version = "3.0.13"; deps = [ final.zlib ]; };
    curl = final.mkPackage { pname = "curl"; version = "8.6.0"; deps = [ final.openssl final.zlib ]; };
    app = final.mkPackage { pname = "app"; version = "1.0"; deps = [ final.curl ]; };
  };

  bumpZlib = final: prev: { zlib = prev.zlib // { version = "1.3.1"; name = "zlib-1.3.1"; closure = [ "zlib-1.3.1" ]; }; };
  patchedOpenssl = final: prev: {
    openssl = final.mkPackage { pname = "openssl"; version = prev.openssl.version + "-patched"; deps = [ final.zlib ]; };
  };
  addTool = final: prev: { tool = final.mkPackage { pname = "tool"; version = "0.1"; deps = [ final.app ]; }; };

  withOverlays = overlays: fix (builtins.foldl' (f: o: extends o f) base overlays);

  # A set that refers to itself lazily, in both directions.
  mutual = fix (self: {
    even = n: if n == 0 then true else self.odd (n - 1);
    odd = n: if n == 0 then false else self.even (n - 1);
    a = self.b + 1;
    b = 41;
  });

  counter = makeExtensible (self: { value = 1; double = self.value * 2; });
  counter2 = counter.extend (final: prev: { value = prev.value + 10; });
  counter3 = counter2.extend (final: prev: { triple = final.value * 3; });

  names = set: map (n: set.${n}.name) [ "zlib" "openssl" "curl" "app" ];
in
{
  plain = names (fix base);
  appClosure = (fix base).app.closure;
  bumped = names (withOverlays [ bumpZlib ]);
  bumpedClosure = (withOverlays [ bumpZlib ]).curl.closure;
  patched = (withOverlays [ bumpZlib patchedOpenssl ]).app.closure;
  composed = (fix (extends (composeExtensions bumpZlib patchedOpenssl) base)).openssl.closure;
  composedMany = (fix (extends (composeManyExtensions [ bumpZlib patchedOpenssl addTool ]) base)).tool.closure;
  overlayOrderMatters = [
    (withOverlays [ patchedOpenssl bumpZlib ]).openssl.version
    (withOverlays [ bumpZlib patchedOpenssl ]).openssl.version
  ];
  mutual = { inherit (mutual) a b; even10 = mutual.even 10; odd7 = mutual.odd 7; };
  extensible = {
    first = { inherit (counter) value double; };
    second = { inherit (counter2) value double; };
    third = { inherit (counter3) value double triple; };
    hasExtend = counter3 ? extend;
    unfixed = (counter.__unfix__ { value = 5; }).double;
  };
  lazyInOverlay = (withOverlays [ (final: prev: { broken = throw "never forced"; }) ]).zlib.name;
}
