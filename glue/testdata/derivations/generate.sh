#!/usr/bin/env bash
# Regenerates the golden files of glue/tests/derivations.rs with CppNix
# (Nix 2.8, local store, run as a user who can write to /nix/store):
# `bash generate.sh`.
#
# For every attribute NAME of cases.nix (evaluated with the tree of
# ../make-fixture.sh as `fixture`) it writes
#   NAME.drv   the .drv nix-instantiate wrote to the store, byte for byte
#   NAME.refs  its references, `nix-store --query --references`, one a line
# and manifest.json: NAME -> its drvPath. Output paths are in the .drv.
# Nothing is built; instantiating only writes .drv files (and the fixture
# paths and toFile outputs they need) to the store.
set -euo pipefail
cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh ../make-fixture.sh "$tmp"
fixture="$tmp/fixture"

names=$(nix-instantiate --eval --json --arg fixture "$fixture" \
  -E '{ fixture }: builtins.attrNames (import ./cases.nix { inherit fixture; })' | jq -r '.[]')

rm -f ./*.drv ./*.refs
echo '{}' > manifest.json
for name in $names; do
  # Printed as `…drv!lib` when the first output is not `out`.
  drv=$(nix-instantiate --no-gc-warning --arg fixture "$fixture" ./cases.nix -A "$name" 2>/dev/null)
  drv=${drv%%!*}
  cp "$drv" "$name.drv"
  chmod 644 "$name.drv"
  nix-store --query --references "$drv" | sort > "$name.refs"
  jq --sort-keys --arg n "$name" --arg d "$drv" '.[$n] = $d' manifest.json > "$tmp/manifest.json"
  mv "$tmp/manifest.json" manifest.json
done
