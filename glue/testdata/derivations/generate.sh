#!/usr/bin/env bash
# Regenerates the golden files of glue/tests/derivations.rs with CppNix
# (Nix 2.8, local store, run as a user who can write to /nix/store):
# `bash generate.sh`.
#
# For every attribute NAME of cases.nix (evaluated with the tree of
# ../make-fixture.sh as `fixture`), and of text-cases.nix with CppNix 2.26
# (modern-nix, as these need a feature Nix 2.8 lacks), it writes
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

# CppNix 2.26 (see PREAMBLE.md): ../shared/tools/modern-nix beside the
# repository, or beside the folder of its worktrees; or $MODERN_NIX.
top=$(git rev-parse --show-toplevel)
for candidate in "${MODERN_NIX:-}" "$top/../shared/tools/modern-nix" "$top/../../shared/tools/modern-nix"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then modern_nix=$candidate; break; fi
done
rm -f ./*.drv ./*.refs
echo '{}' > manifest.json

# Instantiates every case of $2 with the nix-instantiate of $1 (whose
# store is below $3), flags after that.
instantiate() {
  local nix=$1 cases=$2 store=$3
  shift 3
  local names name drv
  names=$($nix nix-instantiate "$@" --eval --json --arg fixture "$fixture" \
    -E "{ fixture }: builtins.attrNames (import $PWD/$cases { inherit fixture; })" | jq -r '.[]')
  for name in $names; do
    # Printed as `…drv!lib` when the first output is not `out`.
    drv=$($nix nix-instantiate "$@" --no-gc-warning --arg fixture "$fixture" "./$cases" -A "$name" 2>/dev/null)
    drv=${drv%%!*}
    cp "$store$drv" "$name.drv"
    chmod 644 "$name.drv"
    $nix nix-store --query --references "$drv" | sort > "$name.refs"
    jq --sort-keys --arg n "$name" --arg d "$drv" '.[$n] = $d' manifest.json > "$tmp/manifest.json"
    mv "$tmp/manifest.json" manifest.json
  done
}

instantiate env cases.nix ""
instantiate "$modern_nix" text-cases.nix "${TMPDIR:-/tmp}/modern-nix-store" \
  --extra-experimental-features dynamic-derivations
