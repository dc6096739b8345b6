#!/usr/bin/env bash
# Regenerates the golden narinfo files and keys in this folder with CppNix
# (made with Nix 2.8.0, running as root with a local store at /nix/store).
#
# What it makes:
#   test-key-{1,2}.{sec,pub}  keys from `nix-store --generate-binary-cache-key`
#   none/*.narinfo            `nix copy` to a file:// cache, compression=none, unsigned
#   xz/*.narinfo              the same with compression=xz, signed by test-key-1
#   multisig/*.narinfo        compression=none, signed by test-key-1 while copying
#                             and then by test-key-2 with `nix store sign`
#
# The keys are random, so rerunning changes every Sig line (and the keys);
# the store paths, hashes and sizes stay the same.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
nix=(nix --extra-experimental-features nix-command)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nix-store --generate-binary-cache-key test-key-1 test-key-1.sec test-key-1.pub
nix-store --generate-binary-cache-key test-key-2 test-key-2.sec test-key-2.pub

# A path added with `nix-store --add` (CA "fixed:r:sha256:…").
added=$(nix-store --add hello.txt)
# A build output (sandbox off: the builder is /bin/sh from the host; no
# substituters: this machine has no network); its
# closure also brings the two text paths from builtins.toFile.
built=$(nix-build --option sandbox false --option substituters "" --no-out-link paths.nix -A built)

"${nix[@]}" copy --to "file://$work/none?compression=none" "$added" "$built"
"${nix[@]}" copy --to "file://$work/xz?compression=xz&secret-key=$here/test-key-1.sec" "$added" "$built"
"${nix[@]}" copy --to "file://$work/multisig?compression=none&secret-key=$here/test-key-1.sec" "$added" "$built"
"${nix[@]}" store sign --store "file://$work/multisig" --key-file test-key-2.sec --recursive "$added" "$built"

for cache in none xz multisig; do
  rm -rf "$cache"
  mkdir "$cache"
  cp "$work/$cache"/*.narinfo "$cache/"
done
