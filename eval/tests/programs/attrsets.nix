# Attribute-set utilities in the style of lib.attrsets, over a small
# configuration tree.
let
  lib = import ./lib;
  inherit (lib) mapAttrsRecursive mapAttrsRecursiveCond recursiveUpdate filterAttrs genAttrs
    foldAttrs zipAttrs attrByPath hasAttrByPath setAttrByPath collect cartesianProduct
    mapAttrs' nameValuePair mapAttrsToList updateManyAttrsByPath attrsToList optionalAttrs;

  defaults = {
    server = { host = "localhost"; port = 80; tls = { enable = false; protocols = [ "TLSv1.2" ]; }; };
    logging = { level = "info"; targets = [ "stderr" ]; };
    features = { a = true; b = false; c = true; };
  };
  overrides = {
    server = { port = 8443; tls = { enable = true; cert = "/etc/cert.pem"; }; };
    logging.targets = [ "journal" ];
    features.b = true;
    extra = { nested.deeply = 1; };
  };
  merged = recursiveUpdate defaults overrides;
in
{
  inherit merged;
  updateIsNotDeepForLists = merged.logging.targets;
  stopAtDerivations = lib.recursiveUpdateUntil (path: l: r: path == [ "server" "tls" ] || !(builtins.isAttrs l && builtins.isAttrs r)) defaults overrides;
  enabledFeatures = builtins.attrNames (filterAttrs (name: on: on) merged.features);
  described = mapAttrsRecursive (path: value: "${builtins.concatStringsSep "." path}=${builtins.toJSON value}") defaults;
  shallowDescribed = mapAttrsRecursiveCond (set: !(set ? enable)) (path: value: builtins.typeOf value) defaults;
  squares = genAttrs [ "one" "two" "three" ] builtins.stringLength;
  totals = foldAttrs (x: acc: acc + x) 0 [ { a = 1; b = 2; } { a = 10; c = 5; } { b = 20; } ];
  collected = foldAttrs (x: acc: [ x ] ++ acc) [ ] [ { a = 1; } { a = 2; b = 3; } ];
  zipped = zipAttrs [ { a = 1; b = 2; } { a = 3; } { b = 4; c = 5; } ];
  paths = {
    present = attrByPath [ "server" "tls" "cert" ] "none" merged;
    absent = attrByPath [ "server" "tls" "key" ] "none" merged;
    throughNonSet = attrByPath [ "server" "port" "x" ] "none" merged;
    has = hasAttrByPath [ "extra" "nested" "deeply" ] merged;
    hasNot = hasAttrByPath [ "extra" "missing" ] merged;
    built = setAttrByPath [ "a" "b" "c" ] 1;
  };
  leaves = collect builtins.isList merged;
  portsOfServers = collect (x: x ? port) { web = { port = 80; }; db = { inner = { port = 5432; }; }; other = 1; };
  product = cartesianProduct { os = [ "linux" "darwin" ]; arch = [ "x86_64" "aarch64" ]; };
  renamed = mapAttrs' (name: value: nameValuePair "feature-${name}" (!value)) defaults.features;
  asList = mapAttrsToList (name: value: "${name}:${lib.boolToString value}") merged.features;
  pairs = attrsToList { b = 1; a = 2; };
  updated = updateManyAttrsByPath [
    { path = [ "server" "port" ]; update = old: old + 1; }
    { path = [ "logging" "targets" ]; update = old: old ++ [ "file" ]; }
    { path = [ "new" "entry" ]; update = old: old == null; }
  ] defaults;
  optional = [ (optionalAttrs true { x = 1; }) (optionalAttrs false { y = throw "lazy"; }) ];
  lazyValues = builtins.attrNames (recursiveUpdate { a = throw "left"; } { b = throw "right"; });
  intersected = builtins.intersectAttrs { port = null; host = null; } merged.server;
  removed = builtins.removeAttrs merged [ "extra" "features" ];
}
