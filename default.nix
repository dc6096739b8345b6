# Builds the tvix workspace with nixpkgs' rustPlatform.
#   nix-build            # all binaries (tvix, tvix-store, nar-bridge as they land)
{ pkgs ? import <nixpkgs> { } }:

pkgs.rustPlatform.buildRustPackage {
  pname = "tvix";
  version = "0.1.0";
  src = pkgs.lib.cleanSourceWith {
    src = ./.;
    filter = path: type: !(pkgs.lib.hasSuffix "/target" path);
  };
  cargoLock.lockFile = ./Cargo.lock;
  # The differential tests call CppNix when it is on PATH.
  nativeCheckInputs = [ pkgs.nix ];
  meta = {
    description = "A Nix implementation in Rust: evaluator, store and formats";
    license = pkgs.lib.licenses.gpl3Plus;
    mainProgram = "tvix";
  };
}
