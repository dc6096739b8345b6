#!/usr/bin/env bash
# Runs every fuzz target (or those named) under libFuzzer for SECS seconds
# each, JOBS at a time, at the lowest CPU priority, and prints per target:
# CPU seconds, executions, and whether it found something (the input is then
# in fuzz/libfuzzer/artifacts/<target>/). New corpus entries go to
# $WORK/corpus/<target>; the committed corpus is only read.
#
#   SECS=120 JOBS=2 fuzz/libfuzzer/run-all.sh [TARGET...]
#
# NO_BUILD=1 runs the binaries as last built. Needs cargo-fuzz and a nightly toolchain (docs/fuzz.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${SECS:-60}
JOBS=${JOBS:-1}
WORK=${WORK:-/tmp/tvix-fuzz}
FLAGS=(--fuzz-dir fuzz/libfuzzer -O -a -s none)

[ -n "${NO_BUILD:-}" ] || cargo +nightly fuzz build "${FLAGS[@]}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz/libfuzzer)
fi
bin=fuzz/libfuzzer/target/x86_64-unknown-linux-gnu/release
mkdir -p "$WORK/logs" fuzz/libfuzzer/artifacts

run_one() {
  local t=$1
  mkdir -p "$WORK/corpus/$t" "fuzz/libfuzzer/artifacts/$t"
  /usr/bin/env time -f "%U %S" -o "$WORK/logs/$t.time" \
    nice -n 19 "$bin/$t" "$WORK/corpus/$t" "fuzz/corpus/$t" \
      -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="fuzz/libfuzzer/artifacts/$t/" \
      >"$WORK/logs/$t.log" 2>&1 || true
}
export -f run_one
export SECS WORK bin
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

printf '%-22s %8s %12s %s\n' target cpu_s execs result
for t in "${targets[@]}"; do
  cpu=$(tail -n 1 "$WORK/logs/$t.time" | awk '{printf "%.0f", $1 + $2}')
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$WORK/logs/$t.log" || echo "?")
  found=$(grep -oE 'ERROR: libFuzzer: [a-z-]+|SUMMARY: libFuzzer: [a-z-]+|panicked at' "$WORK/logs/$t.log" | head -1 || true)
  printf '%-22s %8s %12s %s\n' "$t" "$cpu" "$execs" "${found:-ok}"
done
