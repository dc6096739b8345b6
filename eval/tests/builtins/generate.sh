#!/usr/bin/env bash
# Rewrites the expected outcomes of the builtin tables with CppNix 2.26:
#
#   eval/tests/builtins/generate.sh [NAME.txt ...]   (default: every table)
#
# For each case `NAME: EXPR` it runs, in this folder (relative paths in
# cases resolve here; the folder is shown as /pwd),
#
#   modern-nix nix-instantiate --eval --strict -E EXPR
#
# and, when that fails, to tell whether the error is catchable,
#
#   modern-nix nix-instantiate --eval --strict \
#     -E '(builtins.tryEval (builtins.deepSeq (EXPR
#     ) null)).success'
#
# then writes the outcome below the case (see ../builtins.rs for the
# format) in place of the old one. Comments and blank lines are kept.
# MODERN_NIX overrides the path of modern-nix.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
top=$(git rev-parse --show-toplevel)
nix=${MODERN_NIX:-$top/../shared/tools/modern-nix}
[ -x "$nix" ] || nix=/work/shared/tools/modern-nix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

eval_nix() {  # EXPR: stdout to $tmp/out, stderr to $tmp/err; returns the exit code
  env -u NIX_PATH "$nix" nix-instantiate --eval --strict -E "$1" \
    >"$tmp/out" 2>"$tmp/err" </dev/null
}

# Prints lines of standard input as a record: the first as `  KEY LINE`,
# the others as `  | LINE`, the folder shown as /pwd.
records() {
  local key=$1 first=1 line
  while IFS= read -r line; do
    line=${line//"$here"/\/pwd}
    if [ $first = 1 ]; then
      printf '  %s %s\n' "$key" "$line"
      first=0
    elif [ -z "$line" ]; then
      printf '  |\n'
    else
      printf '  | %s\n' "$line"
    fi
  done
}

# The error's own message in CppNix's output (standard input): the last
# `error:` line, and the lines after it up to a position line, unindented.
error_message() {
  awk '
    /^ *error:/ { n = 0; sub(/^ *error: ?/, ""); msg[n++] = $0; next }
    n > 0 && /^       at .*:[0-9]+:[0-9]+:$/ { stop = 1 }
    n > 0 && !stop { sub(/^       /, ""); msg[n++] = $0 }
    END {
      while (n > 1 && msg[n - 1] == "") n--
      for (i = 0; i < n; i++) print msg[i]
    }'
}

generate() {  # TABLE: rewrites it in place
  local table=$1 line expr newer=0
  : >"$tmp/table"
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      "" | "#"*) printf '%s\n' "$line" >>"$tmp/table" ;;
      # A record written by hand for CppNix 2.34, and its continuations,
      # are kept after the new outcome.
      "  2.34 "*) newer=1; printf '%s\n' "$line" >>"$tmp/table" ;;
      "  |"*) [ $newer = 1 ] && printf '%s\n' "$line" >>"$tmp/table" ;;
      " "*) newer=0 ;;  # an old outcome
      *)
        newer=0
        printf '%s\n' "$line" >>"$tmp/table"
        expr=${line#*: }
        if eval_nix "$expr"; then
          records stderr: <"$tmp/err" >>"$tmp/table"
          records "=>" <"$tmp/out" >>"$tmp/table"
        else
          sed '/^error:/,$d' "$tmp/err" | records stderr: >>"$tmp/table"
          error_message <"$tmp/err" >"$tmp/message"
          local kind=error:
          if eval_nix "(builtins.tryEval (builtins.deepSeq ($expr
) null)).success" && [ "$(cat "$tmp/out")" = false ]; then
            kind="catchable error:"
          fi
          records "$kind" <"$tmp/message" >>"$tmp/table"
        fi
        ;;
    esac
  done <"$table"
  cp "$tmp/table" "$table"
}

if [ $# = 0 ]; then
  set -- $(ls *.txt | grep -v '^known-failing\.txt$')
fi
for table in "$@"; do
  echo "generating $table" >&2
  generate "$table"
done
