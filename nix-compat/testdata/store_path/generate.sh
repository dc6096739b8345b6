#!/usr/bin/env bash
# Regenerates paths.txt: store paths CppNix (Nix 2.8, local store) computes
# for content-addressed data. Each line: <store path> <content address> [references...]
# where the content address is in narinfo CA form. Run as a user who can
# write to /nix/store: `bash generate.sh > paths.txt`.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'hello\n' > "$work/hello.txt"
printf '' > "$work/empty"
printf '#!/bin/sh\necho hi\n' > "$work/script.sh"; chmod +x "$work/script.sh"
mkdir -p "$work/tree/sub"; printf 'a' > "$work/tree/a"; printf 'b' > "$work/tree/sub/b"
ln -s a "$work/tree/link"
mkdir "$work/.dotted"; printf 'x' > "$work/.dotted/x"

ca_of() { # path → "fixed:r:sha256:<nixbase32>" for nix-store --add results
  local h; h=$(nix-store --query --hash "$1"); echo "fixed:r:$h"
}

for p in hello.txt empty script.sh tree .dotted; do
  out=$(nix-store --add "$work/$p")
  echo "$out $(ca_of "$out")"
done
for algo in md5 sha1 sha256 sha512; do
  out=$(nix-store --add-fixed "$algo" "$work/hello.txt")
  echo "$out fixed:$(nix-hash --type "$algo" --flat --base32 "$work/hello.txt" | sed "s/^/$algo:/")"
  out=$(nix-store --add-fixed --recursive "$algo" "$work/tree")
  echo "$out fixed:r:$(nix-hash --type "$algo" --base32 "$work/tree" | sed "s/^/$algo:/")"
done
# Text paths (builtins.toFile): one without and one with a reference.
text_ca() { # content → text:sha256:<nixbase32>
  echo "text:sha256:$(nix-hash --type sha256 --to-base32 "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)")"
}
# --eval computes toFile paths without writing them.
t1=$(nix-instantiate --eval -E 'builtins.toFile "note.txt" "some text"' | tr -d '"')
echo "$t1 $(text_ca 'some text')"
hello=$(nix-store --add "$work/hello.txt")
t2=$(nix-instantiate --eval -E "builtins.toFile \"ref.txt\" \"see \${builtins.storePath $hello}\"" | tr -d '"')
echo "$t2 $(text_ca "see $hello") $hello"
