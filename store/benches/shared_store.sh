#!/usr/bin/env bash
# Import and export of a tree through one `tvix-store daemon` whose store is
# shared: blobs in S3 (a local moto_server), directories and PathInfos in
# Bigtable (the bttest emulator); without and with local caches in front
# (a pack store before S3, redb before each Bigtable table). A daemon on a
# purely local store (pack + redb) runs in the same rounds as the baseline.
#
#   store/benches/shared_store.sh [TREE]
#
# TREE defaults to the Rust toolchain (`rustc --print sysroot`). Settings:
# ROUNDS (default 3; the median is printed), TVIX_STORE (default
# target/release/tvix-store), TVIX_BIGTABLE_EMULATOR (default
# target/bigtable-emulator, see .ci/run), moto_server on PATH, GNU time.
#
# Every round uses a fresh bucket, fresh tables and fresh caches. Per
# variant it prints: the import through the daemon (wall, and the CPU
# seconds of the daemon, the emulator and moto during it, which show
# where the time goes), an export of the NAR (first: caches empty for
# the cached variant, as the import writes through to the far services),
# a second export, and the daemon's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."

tree=${1:-$(rustc --print sysroot)}
rounds=${ROUNDS:-3}
bin=${TVIX_STORE:-target/release/tvix-store}
emulator_bin=${TVIX_BIGTABLE_EMULATOR:-target/bigtable-emulator}
for needed in "$bin" "$emulator_bin" /usr/bin/time; do
  [ -x "$needed" ] || { echo "missing $needed" >&2; exit 1; }
done
command -v moto_server >/dev/null || { echo "missing moto_server" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-moto} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-moto}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
# CPU seconds (user+system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
moto_pid=$!
pids+=("$moto_pid")
wait_port "$moto_port"

config() { # variant round
  local dir="$work/$1-$2" bucket="b$2-$1"
  mkdir -p "$dir"
  curl -sf -X PUT "http://127.0.0.1:$moto_port/$bucket" >/dev/null
  local s3="s3://$bucket/store?endpoint=http://127.0.0.1:$moto_port&region=us-east-1&timeout=60"
  local bt="bigtable://tvix-test?project_id=tvix-test&family_name=cf1&timeout=30"
  case $1 in
    local) cat <<EOF
blobservices.default = { type = "pack", path = "$dir/pack" }
directoryservices.default = { type = "redb", path = "$dir/directories.redb" }
pathinfoservices.default = { type = "redb", path = "$dir/pathinfo.redb" }
EOF
    ;;
    shared) cat <<EOF
blobservices.default = { type = "objectstore", url = "$s3" }
directoryservices.default = { type = "bigtable", url = "$bt&table_name=directories" }
pathinfoservices.default = { type = "bigtable", url = "$bt&table_name=pathinfos" }
EOF
    ;;
    cached) cat <<EOF
blobservices.s3 = { type = "objectstore", url = "$s3" }
blobservices.local = { type = "pack", path = "$dir/pack" }
blobservices.default = { type = "combined", near = "local", far = "s3" }
directoryservices.bigtable = { type = "bigtable", url = "$bt&table_name=directories" }
directoryservices.local = { type = "redb", path = "$dir/directories.redb" }
directoryservices.default = { type = "cache", near = "local", far = "bigtable" }
pathinfoservices.bigtable = { type = "bigtable", url = "$bt&table_name=pathinfos" }
pathinfoservices.local = { type = "redb", path = "$dir/pathinfo.redb" }
pathinfoservices.default = { type = "cache", near = "local", far = "bigtable" }
EOF
    ;;
  esac
}

# timed OUT CMD...: runs CMD with stdout to OUT, prints its wall seconds.
timed() { local out=$1; shift; /usr/bin/time -f "%e" -o "$work/time" "$@" >"$out"; cat "$work/time"; }

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

results="$work/results"
echo "tree: $tree ($(du -sm "$tree" | cut -f1) MiB, $(find "$tree" -type f | wc -l) files, $(find "$tree" -type d | wc -l) directories); $rounds rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for variant in local shared cached; do
    coproc EMU { exec "$emulator_bin" -tables directories,pathinfos -exit-with-stdin; }
    pids+=("$EMU_PID")
    read -r emulator_addr <&"${EMU[0]}"
    export BIGTABLE_EMULATOR_HOST=$emulator_addr
    config "$variant" "$round" >"$work/$variant-$round.toml"
    port=$(free_port)
    "$bin" --config "$work/$variant-$round.toml" daemon --listen-address "127.0.0.1:$port" &
    daemon=$!
    pids+=("$daemon")
    wait_port "$port"
    client=(--blob-service-addr "grpc+http://127.0.0.1:$port" --directory-service-addr "grpc+http://127.0.0.1:$port" --path-info-service-addr "grpc+http://127.0.0.1:$port")

    d0=$(cpu "$daemon"); e0=$(cpu "$EMU_PID"); m0=$(cpu "$moto_pid")
    import=$(timed "$work/path" "$bin" "${client[@]}" import "$tree")
    d1=$(cpu "$daemon"); e1=$(cpu "$EMU_PID"); m1=$(cpu "$moto_pid")
    path=$(cat "$work/path")
    export1=$(timed /dev/null "$bin" "${client[@]}" export-nar "$path")
    export2=$(timed /dev/null "$bin" "${client[@]}" export-nar "$path")
    rss=$(awk '/VmHWM/ { print $2 / 1024 }' "/proc/$daemon/status")
    echo "$variant import $import daemon-cpu $(echo "$d1 - $d0" | bc) emulator-cpu $(echo "$e1 - $e0" | bc) moto-cpu $(echo "$m1 - $m0" | bc) export $export1 export-again $export2 daemon-rss-mib $rss" | tee -a "$results"

    kill "$daemon"; wait "$daemon" 2>/dev/null || true
    eval "exec ${EMU[1]}>&-"
    wait "$EMU_PID" 2>/dev/null || true
  done
done

echo
echo "median of $rounds (seconds; RSS in MiB):"
for variant in local shared cached; do
  line="$variant:"
  for field in import daemon-cpu emulator-cpu moto-cpu export export-again daemon-rss-mib; do
    value=$(awk -v v="$variant" -v f="$field" '$1 == v { for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }' "$results" | median)
    line="$line $field $value"
  done
  echo "$line"
done
