#!/usr/bin/env bash
# Made with CppNix 2.26 (../../../../shared/tools/modern-nix), run from a
# copy of this folder; the folder's path is replaced by @DIR@.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cp "$here/positions.nix" "$tmp/"
cd "$tmp"
nix=${MODERN_NIX:-$here/../../../../shared/tools/modern-nix}
"$nix" nix-instantiate --eval --xml --strict positions.nix | sed "s|$tmp|@DIR@|g" > "$here/positions.xml"
"$nix" nix-instantiate --eval --strict -E 'let s = import ./positions.nix; in [ (builtins.unsafeGetAttrPos "a" s) (builtins.unsafeGetAttrPos "c" s.b) (builtins.unsafeGetAttrPos "map" s) (builtins.unsafeGetAttrPos "h" s.g) (builtins.unsafeGetAttrPos "e" (builtins.functionArgs s.d)) (builtins.unsafeGetAttrPos "a" (builtins.mapAttrs (n: v: v) s)) (builtins.unsafeGetAttrPos "a" (s // {})) (builtins.unsafeGetAttrPos "a" (builtins.intersectAttrs { a = 1; } s)) ]' | sed "s|$tmp|@DIR@|g" > "$here/positions.exp"
# Instantiation (no --eval), with Nix 2.8's nix-instantiate on PATH:
nix-instantiate "$here/instantiate.nix" 2>/dev/null > "$here/instantiate.exp"
nix-instantiate "$here/instantiate.nix" -A c --argstr system aarch64-linux 2>/dev/null > "$here/instantiate-attr.exp"
