#!/usr/bin/env bash
# Import and export of the Rust toolchain tree through one `tvix-store
# daemon` (configured by --config, the client on its Unix socket) whose
# store is shared: blobs in S3 (a local moto_server), directories and
# PathInfos in Bigtable (the bttest emulator, target/bigtable-emulator, see
# .ci/run); without (`s3+bt`) and with (`s3+bt+cache`) local caches in
# front (`combined` over a pack store before S3, `cache` over redb before
# each Bigtable table). In the same run: the same daemon on a local store
# (`local`: pack + redb) and CppNix 2.8 (`nix-store --add` into a chroot
# store, `nix-store --dump`) on the same tree, for the ratios.
#
#   store/benches/s3-toolchain.sh [TREE]
#
# TREE defaults to a hard-linked copy of the toolchain's lib/ (large files)
# and share/doc/rust/html/std (many small files), 637 MiB in 2711 files;
# `sysroot` means the whole `rustc --print sysroot` (1.2 GiB, 52k files),
# which moto (Python, one core) takes over ten minutes to take in.
# Settings: ROUNDS (default 1; each step's median over the rounds is
# printed), VARIANTS (default "local s3+bt s3+bt+cache"), TVIX_STORE
# (default target/release/tvix-store), TVIX_BIGTABLE_EMULATOR (default
# target/bigtable-emulator), moto_server on PATH, GNU time, nix-store.
#
# Every variant of every round gets a fresh bucket, a fresh emulator with
# fresh tables and fresh caches. Per step it prints the wall time; the CPU
# seconds of the client, the daemon, moto and the emulator; the peak RSS
# of the client and of the daemon (so far); and the S3 requests moto
# answered (GET / PUT / HEAD / other, from its request log).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${ROUNDS:-1}
variants=${VARIANTS:-local s3+bt s3+bt+cache}
bin=${TVIX_STORE:-target/release/tvix-store}
emulator_bin=${TVIX_BIGTABLE_EMULATOR:-target/bigtable-emulator}
for needed in "$bin" "$emulator_bin" /usr/bin/time; do
  [ -x "$needed" ] || { echo "missing $needed" >&2; exit 1; }
done
for needed in moto_server nix-store python3; do
  command -v "$needed" >/dev/null || { echo "missing $needed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tvix-s3-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

sysroot=$(rustc --print sysroot)
case ${1:-} in
  "")
    tree=$work/toolchain
    mkdir -p "$tree/share/doc/rust/html"
    cp -al "$sysroot/lib" "$tree/lib"
    cp -al "$sysroot/share/doc/rust/html/std" "$tree/share/doc/rust/html/std"
    ;;
  sysroot) tree=$sysroot ;;
  *) tree=$1 ;;
esac

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
# CPU seconds (user+system, all threads) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# A - B, two decimals.
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
peak_mib() { awk '/VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }

moto_port=$(free_port)
moto_log=$work/moto.log
moto_server -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto=$!
pids+=("$moto")
wait_port "$moto_port"

config() { # variant dir bucket
  local dir=$2
  local s3="s3://$3/store?endpoint=http://127.0.0.1:$moto_port&region=us-east-1&timeout=120"
  local bt="bigtable://tvix-test?project_id=tvix-test&family_name=cf1&timeout=60"
  case $1 in
    local) cat <<EOF
blobservices.default = { type = "pack", path = "$dir/pack" }
directoryservices.default = { type = "redb", path = "$dir/directories.redb" }
pathinfoservices.default = { type = "redb", path = "$dir/pathinfo.redb" }
EOF
    ;;
    s3+bt) cat <<EOF
blobservices.default = { type = "objectstore", url = "$s3" }
directoryservices.default = { type = "bigtable", url = "$bt&table_name=directories" }
pathinfoservices.default = { type = "bigtable", url = "$bt&table_name=pathinfos" }
EOF
    ;;
    s3+bt+cache) cat <<EOF
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

# S3 requests in moto's log from byte OFFSET on, by method.
requests() {
  tail -c "+$(($1 + 1))" "$moto_log" | awk '
    /"GET /  { g++ } /"PUT /  { p++ } /"HEAD / { h++ }
    /"(POST|DELETE) / { o++ }
    END { printf "%d/%d/%d/%d", g, p, h, o }'
}

results=$work/results
# step VARIANT NAME CMD...: runs CMD (a tvix-store client, stdout to
# $work/out) and appends its figures to $results.
step() {
  local variant=$1 name=$2; shift 2
  local d0 m0 e0 t0 t1 log0
  d0=$(cpu "$daemon"); m0=$(cpu "$moto"); e0=$(cpu "$emulator")
  log0=$(stat -c %s "$moto_log")
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" >"$work/out"
  t1=$(date +%s.%N)
  local cu cs cm
  read -r cu cs cm <"$work/time"
  echo "$variant $name wall $(sub "$t1" "$t0") client $(sub "$cu" "-$cs")" \
    "daemon $(sub "$(cpu "$daemon")" "$d0") moto $(sub "$(cpu "$moto")" "$m0")" \
    "emulator $(sub "$(cpu "$emulator")" "$e0") client-rss $((cm / 1024))" \
    "daemon-rss $(peak_mib "$daemon") s3-get/put/head/other $(requests "$log0")" \
    | tee -a "$results"
}

# cppnix NAME CMD...: the same figures for a CppNix command.
cppnix() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/out"
  local w u s m
  read -r w u s m <"$work/time"
  echo "CppNix $name wall $w client $(sub "$u" "-$s") client-rss $((m / 1024))" | tee -a "$results"
}

echo "tree: $tree ($(du -sm "$tree" | cut -f1) MiB, $(find "$tree" -type f | wc -l) files," \
  "$(find "$tree" -type d | wc -l) directories); $bin; $rounds round(s); $(nproc) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for variant in $variants; do
    dir=$work/$round-$variant
    bucket=b$round-${variant//+/-}
    mkdir -p "$dir"
    curl -sf -X PUT "http://127.0.0.1:$moto_port/$bucket" >/dev/null
    config "$variant" "$dir" "$bucket" >"$dir/store.toml"
    coproc EMU { exec "$emulator_bin" -tables directories,pathinfos -exit-with-stdin; }
    emulator=$EMU_PID
    pids+=("$emulator")
    read -r emulator_addr <&"${EMU[0]}"
    BIGTABLE_EMULATOR_HOST=$emulator_addr "$bin" --config "$dir/store.toml" \
      daemon --listen-address "unix://$dir/daemon.sock" 2>"$dir/daemon.log" &
    daemon=$!
    pids+=("$daemon")
    until [ -S "$dir/daemon.sock" ]; do sleep 0.1; done
    client=(--blob-service-addr "grpc+unix://$dir/daemon.sock"
      --directory-service-addr "grpc+unix://$dir/daemon.sock"
      --path-info-service-addr "grpc+unix://$dir/daemon.sock")

    step "$variant" import "$bin" "${client[@]}" import "$tree"
    path=$(cat "$work/out")
    step "$variant" export-nar "$bin" "${client[@]}" export-nar "$path"
    sha256sum <"$work/out" | cut -d' ' -f1 >"$dir/nar.sha256"
    step "$variant" export-nar-again "$bin" "${client[@]}" export-nar "$path"
    step "$variant" import-again "$bin" "${client[@]}" import "$tree"

    kill "$daemon"; wait "$daemon" 2>/dev/null || true
    eval "exec ${EMU[1]}>&-"
    wait "$emulator" 2>/dev/null || true
  done
  rm -rf "$work/nix"
  cppnix nix-store--add nix-store --store "$work/nix" --add "$tree"
  cppnix nix-store--dump nix-store --dump "$tree"
  nix_sha=$(sha256sum <"$work/out" | cut -d' ' -f1)
  for variant in $variants; do
    [ "$(cat "$work/$round-$variant/nar.sha256")" = "$nix_sha" ] \
      || { echo "$variant: NAR DIFFERS from nix-store --dump's" >&2; exit 1; }
  done
done
echo "every NAR identical to nix-store --dump's"

# The median over the rounds of each field of each step, as a table.
echo
echo "| step | wall s | CPU client s | CPU daemon s | CPU moto s | CPU emulator s | peak RSS client / daemon MiB | S3 GET/PUT/HEAD/other |"
echo "|---|---|---|---|---|---|---|---|"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }
field() { # variant step field
  awk -v v="$1" -v s="$2" -v f="$3" '$1 == v && $2 == s { for (i = 3; i < NF; i += 2) if ($i == f) print $(i + 1) }' "$results"
}
for variant in $variants CppNix; do
  for name in $(awk -v v="$variant" '$1 == v && !seen[$2]++ { print $2 }' "$results"); do
    row="| $variant $name"
    for f in wall client daemon moto emulator; do
      row="$row | $(field "$variant" "$name" "$f" | median)"
    done
    row="$row | $(field "$variant" "$name" client-rss | median) / $(field "$variant" "$name" daemon-rss | median)"
    row="$row | $(field "$variant" "$name" s3-get/put/head/other | sort | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') |"
    echo "$row"
  done
done
