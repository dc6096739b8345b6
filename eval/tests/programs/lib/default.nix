# A small library in the style of nixpkgs' lib, written for these tests:
# each file takes the finished library as `lib`, so they can use each
# other, and the whole is a fixed point.
let
  fix = f: let x = f x; in x;
  files = [
    ./trivial.nix
    ./lists.nix
    ./attrsets.nix
    ./strings.nix
    ./versions.nix
    ./fixed-points.nix
    ./types.nix
    ./modules.nix
  ];
in
fix (lib: builtins.foldl' (acc: file: acc // import file { inherit lib; }) { } files)
