#!/usr/bin/env bash
# Rewrites the expected output of the programs with CppNix 2.26:
#
#   eval/tests/programs/generate.sh [NAME.nix ...]   (default: every program)
#
# For each program it runs, in this folder,
#
#   modern-nix nix-instantiate --eval --strict NAME.nix > NAME.exp
#
# A program must evaluate: one that fails is reported and its .exp left
# alone. MODERN_NIX overrides the path of modern-nix.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
top=$(git rev-parse --show-toplevel)
nix=${MODERN_NIX:-$top/../shared/tools/modern-nix}
[ -x "$nix" ] || nix=/work/shared/tools/modern-nix

if [ $# = 0 ]; then
  set -- *.nix
fi
status=0
for program in "$@"; do
  exp=${program%.nix}.exp
  if env -u NIX_PATH "$nix" nix-instantiate --eval --strict "$program" >"$exp.new" </dev/null; then
    mv "$exp.new" "$exp"
  else
    echo "$program failed; $exp left as it was" >&2
    rm -f "$exp.new"
    status=1
  fi
done
exit $status
