#!/usr/bin/env bash
# Regenerates the tiny Nix binary cache in cache/ with CppNix (made with
# Nix 2.8.0, running as root with a local store at /nix/store). The
# nix+http(s) path info service tests serve cache/ over HTTP.
#
# What it makes:
#   tvix-test-1.{sec,pub}  a key pair from `nix-store --generate-binary-cache-key`;
#                          the secret key is committed: it signs nothing else
#   cache/                 `nix copy --to file://…` output, every narinfo signed
#                          by tvix-test-1:
#     tree                 a directory (file, executable, symlink, subdirectory),
#                          from `nix-store --add`, compression=xz
#     refers-to-tree       a text path referring to tree (builtins.toFile),
#                          compression=xz
#     COMPRESSION.txt      a one-line file from `nix-store --add`, one for each
#                          of none, bzip2, gzip and zstd
#   paths.txt              the store paths above, one per line, name order
#
# The key is random, so rerunning changes every Sig line (and the key); the
# store paths, NAR hashes and sizes stay the same (the compressed files may
# differ with another libarchive).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
nix=(nix --extra-experimental-features nix-command)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -f tvix-test-1.sec tvix-test-1.pub
nix-store --generate-binary-cache-key tvix-test-1 tvix-test-1.sec tvix-test-1.pub

mkdir -p "$work/tree/sub"
printf 'Hello, binary cache!\n' > "$work/tree/hello.txt"
printf '#!/bin/sh\necho hi\n' > "$work/tree/sub/run"
chmod 0755 "$work/tree/sub/run"
ln -s ../hello.txt "$work/tree/sub/link"
tree=$(nix-store --add "$work/tree")
# nix-instantiate --eval prints the string quoted; store paths need no escapes.
refers=$(nix-instantiate --read-write-mode --eval \
  -E "builtins.toFile \"refers-to-tree\" \"see \${builtins.storePath $tree}\n\"" | tr -d '"')

cache="file://$work/cache"
"${nix[@]}" copy --to "$cache?compression=xz&secret-key=$here/tvix-test-1.sec" "$tree" "$refers"
paths=("$tree" "$refers")
for compression in none bzip2 gzip zstd; do
  printf 'compressed with %s\n' "$compression" > "$work/$compression.txt"
  path=$(nix-store --add "$work/$compression.txt")
  "${nix[@]}" copy --to "$cache?compression=$compression&secret-key=$here/tvix-test-1.sec" "$path"
  paths+=("$path")
done

rm -rf cache
cp -r "$work/cache" cache
printf '%s\n' "${paths[@]}" | sort -t- -k2 > paths.txt
