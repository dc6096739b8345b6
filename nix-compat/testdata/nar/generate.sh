#!/usr/bin/env bash
# Regenerates the NAR golden files in this directory with CppNix.
#
# Each fixture below is a small file tree built with plain shell commands;
# `nix-store --dump` turns it into NAME.nar, and `nix-hash` records the NAR's
# sha256 (hex and nixbase32) in hashes.txt.
#
# The Rust tests rebuild the very same trees from a description in
# src/nar/tests/fixtures.rs (tests must not need Nix): keep both in step.
# The tests check that our writer reproduces NAME.nar byte for byte, and,
# when nix-store is on PATH, that CppNix dumps the Rust-built trees to the
# same bytes.
#
# Made with: nix-store (Nix) 2.8.0
set -euo pipefail

out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# file PATH MODE PRINTF-FORMAT: a regular file with exactly these bytes.
file() {
  printf "$3" > "$1"
  chmod "$2" "$1"
}

cd "$tmp"

file regular 0644 'Hello, NAR!\n'                 # 12 bytes: needs padding
file executable 0755 '#!/bin/sh\necho hi\n'
ln -s target/of/link symlink
file empty-file 0644 ''
mkdir empty-dir
file eight-bytes 0644 '01234567'                  # exactly one 8-byte word
file sixteen-bytes 0644 '0123456789abcdef'        # exactly two words
file nul-bytes 0644 '\000\001\000nul\000'         # NUL bytes in contents

# Entry names that test the sort order: byte order, so "B" < "a" < "a.b" <
# "ab" < "z" < "é" (0xc3 0xa9 compares as unsigned).
mkdir nested
file nested/B 0644 'upper\n'
mkdir nested/a
mkdir nested/a/empty
ln -s ../B nested/a/link
file nested/a/run 0755 '#!/bin/sh\n'
file nested/a.b 0644 'dot\n'
ln -s a.b nested/ab
file nested/z 0644 ''
file "nested/$(printf '\303\251')" 0644 'accent\n'

: > "$out/hashes.txt"
for name in regular executable symlink empty-file empty-dir eight-bytes \
  sixteen-bytes nul-bytes nested; do
  nix-store --dump "$name" > "$out/$name.nar"
  echo "$name $(nix-hash --type sha256 "$name") $(nix-hash --type sha256 --base32 "$name")" \
    >> "$out/hashes.txt"
done
