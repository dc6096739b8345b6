# Dependency graphs: closures with genericClosure, reverse dependencies,
# topological order and cycle detection, as build tools written in Nix do.
let
  lib = import ./lib;

  graph = {
    app = [ "libweb" "liblog" ];
    libweb = [ "libhttp" "liblog" "libjson" ];
    libhttp = [ "libtls" "libsocket" ];
    libtls = [ "libcrypto" ];
    libcrypto = [ ];
    libsocket = [ ];
    liblog = [ "libfmt" ];
    libfmt = [ ];
    libjson = [ "libfmt" ];
    tool = [ "libjson" ];
  };

  closure = roots: map (x: x.key) (builtins.genericClosure {
    startSet = map (key: { inherit key; }) roots;
    operator = item: map (key: { inherit key; }) graph.${item.key};
  });

  depth = lib.fix (self: builtins.mapAttrs (name: deps:
    builtins.foldl' (d: dep: lib.max d (self.${dep} + 1)) 0 deps) graph);

  reverseDeps = builtins.zipAttrsWith (name: values: builtins.sort builtins.lessThan values)
    (lib.concatMap (name: map (dep: { ${dep} = name; }) graph.${name}) (builtins.attrNames graph));

  # Depth-first post-order: dependencies before dependents.
  topoOf = g: roots:
    let
      visit = acc: name:
        if builtins.elem name acc.done then acc
        else if builtins.elem name acc.path then throw "cycle through ${name}"
        else
          let after = builtins.foldl' visit (acc // { path = acc.path ++ [ name ]; }) g.${name};
          in after // { path = acc.path; done = after.done ++ [ name ]; };
    in
    (builtins.foldl' visit { path = [ ]; done = [ ]; } roots).done;

  cyclic = graph // { libfmt = [ "app" ]; };
  cyclicClosure = builtins.length (builtins.genericClosure {
    startSet = [ { key = "app"; } ];
    operator = item: map (key: { inherit key; }) cyclic.${item.key};
  });

  numbers = builtins.genericClosure {
    startSet = [ { key = 1; } ];
    operator = item:
      let n = item.key; in
      if n > 50 then [ ] else [ { key = n * 2; } { key = n * 3; } ];
  };
in
{
  appClosure = closure [ "app" ];
  toolClosure = closure [ "tool" ];
  sharedClosure = closure [ "tool" "libtls" ];
  depth = depth;
  deepest = lib.last (lib.sortOn (n: depth.${n}) (builtins.attrNames graph));
  reverseDeps = reverseDeps;
  topo = topoOf graph [ "app" "tool" ];
  acyclicSucceeds = (builtins.tryEval (builtins.deepSeq (topoOf graph [ "app" ]) null)).success;
  cycleDetected = !(builtins.tryEval (builtins.deepSeq (topoOf cyclic [ "app" ]) null)).success;
  cyclicClosureSize = cyclicClosure;
  smooth = map (x: x.key) numbers;
  leaves = builtins.attrNames (lib.filterAttrs (_: deps: deps == [ ]) graph);
}
