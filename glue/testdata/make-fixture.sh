#!/bin/sh
# Creates the fixture tree the derivation and path tests import, as
# DIR/fixture: `sh make-fixture.sh DIR`. Both generate.sh (for CppNix) and
# the Rust tests (for tvix) build it with this script, since git keeps
# neither empty directories nor the exact modes. Store paths depend only on
# the tree's contents and the name "fixture", not on DIR.
set -eu
root="$1/fixture"
rm -rf "$root"
mkdir -p "$root/empty" "$root/sub/nested" "$root/sub/empty-too"
printf 'hello\n' > "$root/file.txt"
printf '#!/bin/sh\necho hi\n' > "$root/exec.sh"
chmod 755 "$root/exec.sh"
: > "$root/empty-file"
printf 'deep\n' > "$root/sub/nested/deep.txt"
printf 'hidden\n' > "$root/sub/.hidden"
printf 'spaced\n' > "$root/sub/with space.txt"
printf 'unicode\n' > "$root/sub/ünïcödé.txt"
printf 'a\377b\303' > "$root/non-utf8.bin"
ln -s file.txt "$root/link"
ln -s ../file.txt "$root/sub/up-link"
ln -s /nonexistent/target "$root/dangling"
ln -s sub "$root/dir-link"
chmod 644 "$root/file.txt" "$root/empty-file" "$root/sub/nested/deep.txt" \
  "$root/sub/.hidden" "$root/sub/with space.txt" "$root/sub/ünïcödé.txt" \
  "$root/non-utf8.bin"
