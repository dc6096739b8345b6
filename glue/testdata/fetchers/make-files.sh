#!/usr/bin/env bash
# Makes the files glue/tests/fetchers.rs serves and fetches, in files/:
# `bash make-files.sh` (their bytes are committed; the golden values in
# expected.json depend on them, so regenerate those after changing this).
#
#   hello.txt                 a small text file
#   big.bin                   2 MiB + 3 bytes of varied data (more than one
#                             read, and chunks of the blob service)
#   tree.tar{,.gz,.bz2,.xz,.zst}  one top-level directory `tree` holding a
#                             file, an executable, a symlink, an empty
#                             directory and a nested file
#   multi.tar                 two top-level entries (a file, a directory)
#   file.tar                  one top-level file
#   empty.tar                 no entries at all
#
# Archives are made reproducibly: sorted names, fixed times and owners.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf files
mkdir files
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'hello\n' > files/hello.txt
# 2 MiB + 3 bytes, the same on every machine.
awk 'BEGIN { for (i = 0; i < 2097155; i++) printf "%c", 32 + (i * 7919) % 95 }' > files/big.bin

mkdir -p "$tmp/tree/bin" "$tmp/tree/empty" "$tmp/tree/src/deep"
printf 'read me\n' > "$tmp/tree/README"
printf '#!/bin/sh\necho hi\n' > "$tmp/tree/bin/run"
chmod 755 "$tmp/tree/bin/run"
chmod 644 "$tmp/tree/README"
printf 'int main;\n' > "$tmp/tree/src/deep/main.c"
ln -s README "$tmp/tree/link"
mkdir -p "$tmp/multi/dir"
printf 'a\n' > "$tmp/multi/a"
printf 'b\n' > "$tmp/multi/dir/b"

# Every entry dated 2020-09-13 12:26:40 UTC, but the newest file,
# 500 seconds later (fetchTree's lastModified is the newest).
find "$tmp" -exec touch -h -d @1600000000 {} +
touch -d @1600000500 "$tmp/tree/src/deep/main.c"
reproducible_tar() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --format=gnu "$@"
}
reproducible_tar -C "$tmp" -cf files/tree.tar tree
gzip -9 -n -c files/tree.tar > files/tree.tar.gz
bzip2 -9 -c files/tree.tar > files/tree.tar.bz2
xz -9 -c files/tree.tar > files/tree.tar.xz
zstd -q -19 -c files/tree.tar > files/tree.tar.zst
reproducible_tar -C "$tmp/multi" -cf files/multi.tar a dir
reproducible_tar -C "$tmp/multi" -cf files/file.tar a
reproducible_tar -cf files/empty.tar -T /dev/null
