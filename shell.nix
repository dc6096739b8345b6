# Development shell: the Rust toolchain, and CppNix for differential tests.
# Protobuf tooling is not needed: protos are compiled in build.rs by protox.
{ pkgs ? import <nixpkgs> { } }:

pkgs.mkShell {
  packages = [
    pkgs.cargo
    pkgs.rustc
    pkgs.clippy
    pkgs.rustfmt
    pkgs.cargo-fuzz
    pkgs.nix
  ];
}
