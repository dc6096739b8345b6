#!/usr/bin/env bash
# Regenerates expected.json for glue/tests/paths.rs with CppNix (Nix 2.8,
# local store, as a user who can write to /nix/store): `bash generate.sh`.
#
# Evaluates every attribute of cases.nix (with the tree of
# ../make-fixture.sh as `fixture`) with `nix-instantiate --eval --strict
# --json --read-write-mode`, which adds imported paths to the store for
# real, so that the cases that read through them work.
set -euo pipefail
cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh ../make-fixture.sh "$tmp"

nix-instantiate --eval --strict --json --read-write-mode \
  --arg fixture "$tmp/fixture" ./cases.nix | jq --sort-keys . > expected.json
