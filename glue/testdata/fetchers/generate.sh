#!/usr/bin/env bash
# Regenerates expected.json for glue/tests/fetchers.rs with CppNix 2.26
# (../shared/tools/modern-nix): `bash generate.sh`.
#
# Evaluates every attribute of cases.nix with `nix-instantiate --eval
# --strict --json` (flakes enabled, for fetchTree), fetching the files of
# make-files.sh from `file://` URLs and the repositories of make-repos.sh
# from a temporary directory. The values do not depend on either location.
set -euo pipefail
cd "$(dirname "$0")"

top=$(git rev-parse --show-toplevel)
for candidate in "${MODERN_NIX:-}" "$top/../shared/tools/modern-nix" "$top/../../shared/tools/modern-nix"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then modern_nix=$candidate; break; fi
done

# Below /tmp, which modern-nix's chroot sees.
tmp=$(mktemp -d -p /tmp)
trap 'rm -rf "$tmp"' EXIT
cp -r files "$tmp/files"
bash make-repos.sh "$tmp"

"$modern_nix" nix-instantiate --eval --strict --json \
  --extra-experimental-features 'nix-command flakes' \
  --argstr base "file://$tmp/files" --argstr repos "$tmp" \
  "$PWD/cases.nix" | jq --sort-keys . > expected.json
