#!/usr/bin/env bash
# Regenerates the derivation golden files with CppNix (Nix 2.8, local store;
# run as a user who can write to /nix/store): `bash generate.sh`.
#
# For every attribute NAME of derivations.nix it writes
#   NAME.drv   the ATerm file nix-instantiate wrote to the store, byte for byte
#   NAME.json  `nix show-derivation` of it (the JSON form serde must match)
# and manifest.json: NAME -> { drvPath, outputs: { output name -> path } }.
# Nothing is built; instantiating only writes .drv files (and input-source.txt)
# to the store.
set -euo pipefail
cd "$(dirname "$0")"

# An env value that is not UTF-8, read by derivations.nix.
printf 'a\377b\303' > non-utf8.bin

nix-instantiate --eval --strict --json -E '
  builtins.mapAttrs (_: drv: {
    inherit (drv) drvPath;
    outputs = builtins.listToAttrs
      (map (o: { name = o; value = drv.${o}.outPath; }) (drv.outputs or [ "out" ]));
  }) (import ./derivations.nix)' | jq --sort-keys . > manifest.json

for name in $(jq -r 'keys[]' manifest.json); do
  drv=$(nix-instantiate --no-gc-warning derivations.nix -A "$name")
  [ "$drv" = "$(jq -r --arg n "$name" '.[$n].drvPath' manifest.json)" ]
  cp "$drv" "$name.drv"
  chmod 644 "$name.drv"
  nix --extra-experimental-features nix-command show-derivation "$drv" > "$name.json"
done
