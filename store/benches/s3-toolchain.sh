#!/usr/bin/env bash
# Import and export of the Rust toolchain tree through one `tvix-store
# daemon` whose blobs are in S3 (a local moto_server), with and without a
# local cache in front; CppNix 2.8 (`nix-store --add` into a chroot store,
# `nix-store --dump`) on the same tree in the same run for the ratio.
#
#   store/benches/s3-toolchain.sh [TVIX_STORE_BIN] [TREE]
#
# TREE defaults to a hard-linked copy of the toolchain's lib/ (large
# files) and share/doc/rust/html/std (many small files): the whole
# sysroot is 52k files, which moto (a Python server handling one request
# at a time) takes over ten minutes to take in. Directories and PathInfos
# are in local redb files (stand-ins for Bigtable). Prints one line per
# step: wall time, CPU of client, daemon and moto, peak RSS of client and
# daemon.
set -euo pipefail

bin=${1:-target/release/tvix-store}
work=$(mktemp -d /tmp/tvix-s3-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

tree=${2:-}
if [ -z "$tree" ]; then
  sysroot=$(rustc --print sysroot)
  tree=$work/toolchain
  mkdir -p "$tree/share/doc/rust/html"
  cp -al "$sysroot/lib" "$tree/lib"
  cp -al "$sysroot/share/doc/rust/html/std" "$tree/share/doc/rust/html/std"
fi
echo "tree: $(du -sh "$tree" | cut -f1), $(find "$tree" -type f | wc -l) files; load: $(cut -d' ' -f1-3 /proc/loadavg)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
until curl -s -o /dev/null "http://127.0.0.1:$port"; do sleep 0.2; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench

# CPU seconds (user+sys) of a process so far.
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
peak_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

# step NAME CMD...: runs CMD (a tvix-store client) and reports.
step() {
  local name=$1; shift
  local d0 m0 t0 t1
  d0=$(cpu "$daemon"); m0=$(cpu "$moto"); t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" >"$work/out"
  t1=$(date +%s.%N)
  read -r cu cs cm <"$work/time"
  printf '%-28s %7.2f s wall | CPU client %6.2f s, daemon %6.2f s, moto %6.2f s | peak RSS client %4d MiB, daemon %4d MiB\n' \
    "$name" "$(echo "$t1 - $t0" | bc)" "$(echo "$cu + $cs" | bc)" \
    "$(echo "$(cpu "$daemon") - $d0" | bc)" "$(echo "$(cpu "$moto") - $m0" | bc)" \
    $((cm / 1024)) $(($(peak_kb "$daemon") / 1024))
}

for setup in s3 s3+cache; do
  dir=$work/$setup
  mkdir -p "$dir"
  bucket=bench-${setup/+/-}
  curl -s -X PUT -o /dev/null "http://127.0.0.1:$port/$bucket"
  s3="s3://$bucket/store?endpoint=http://127.0.0.1:$port&region=us-east-1"
  if [ "$setup" = s3 ]; then
    cat >"$dir/store.toml" <<TOML
blobservices.default = { type = "objectstore", url = "$s3" }
directoryservices.default = { type = "redb", path = "$dir/directories.redb" }
pathinfoservices.default = { type = "redb", path = "$dir/pathinfo.redb" }
TOML
  else
    cat >"$dir/store.toml" <<TOML
[blobservices]
local = { type = "pack", path = "$dir/pack" }
s3 = { type = "objectstore", url = "$s3" }
default = { type = "combined", near = "local", far = "s3" }
[directoryservices]
local = { type = "redb", path = "$dir/directories-cache.redb" }
shared = { type = "redb", path = "$dir/directories.redb" }
default = { type = "cache", near = "local", far = "shared" }
[pathinfoservices]
recent = { type = "lru", capacity = 10000 }
shared = { type = "redb", path = "$dir/pathinfo.redb" }
default = { type = "cache", near = "recent", far = "shared" }
TOML
  fi
  "$bin" --config "$dir/store.toml" daemon --listen-address "unix://$dir/daemon.sock" &
  daemon=$!
  until [ -S "$dir/daemon.sock" ]; do sleep 0.1; done
  client=(--blob-service-addr "grpc+unix://$dir/daemon.sock"
    --directory-service-addr "grpc+unix://$dir/daemon.sock"
    --path-info-service-addr "grpc+unix://$dir/daemon.sock")
  step "$setup import" "$bin" "${client[@]}" import "$tree"
  path=$(cat "$work/out")
  step "$setup export (1st)" "$bin" "${client[@]}" export-nar "$path"
  nar_sha=$(sha256sum <"$work/out" | cut -d' ' -f1)
  step "$setup export (2nd)" "$bin" "${client[@]}" export-nar "$path"
  step "$setup import again" "$bin" "${client[@]}" import "$tree"
  kill "$daemon"; wait "$daemon" || true
done

nix_store=$work/nix
/usr/bin/time -f "%e %U %S %M" -o "$work/time" nix-store --store "$nix_store" --add "$tree" >/dev/null
read -r w u s m <"$work/time"
printf '%-28s %7.2f s wall | CPU %6.2f s | peak RSS %4d MiB\n' "CppNix nix-store --add" "$w" "$(echo "$u + $s" | bc)" $((m / 1024))
/usr/bin/time -f "%e %U %S %M" -o "$work/time" nix-store --dump "$tree" >"$work/out"
read -r w u s m <"$work/time"
printf '%-28s %7.2f s wall | CPU %6.2f s | peak RSS %4d MiB\n' "CppNix nix-store --dump" "$w" "$(echo "$u + $s" | bc)" $((m / 1024))
if [ "$(sha256sum <"$work/out" | cut -d' ' -f1)" = "$nar_sha" ]; then
  echo "NAR identical to CppNix's"
else
  echo "NAR DIFFERS from CppNix's"; exit 1
fi
