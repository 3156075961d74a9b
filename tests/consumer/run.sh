#!/usr/bin/env bash
# usage: run.sh MMSB_SOURCE_DIR CONSUMER_PROJECT_DIR
set -euo pipefail
src=$1 project=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsb-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Compiler environment (sanitizer flags of the outer build) must not leak into these builds.
unset CFLAGS CXXFLAGS LDFLAGS

echo "== install MMSB into $tmp/prefix"
meson setup "$tmp/mmsb-build" "$src" --prefix="$tmp/prefix" --wrap-mode=nodownload \
  -Dtests=false -Dexamples=false -Dbenchmarks=false -Dcuda=disabled -Dkokkos=disabled >"$tmp/setup.log" 2>&1 \
  || { cat "$tmp/setup.log"; exit 1; }
meson install -C "$tmp/mmsb-build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/prefix" -name mmsb.pc | head -n1)
[ -n "$pc" ] || { echo "mmsb.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
echo "pkg-config --cflags mmsb: $(pkg-config --cflags mmsb)"

echo "== meson consumer"
meson setup "$tmp/meson-consumer" "$project" >"$tmp/c1.log" 2>&1 || { cat "$tmp/c1.log"; exit 1; }
ninja -C "$tmp/meson-consumer" >"$tmp/c1b.log" 2>&1 || { cat "$tmp/c1b.log"; exit 1; }
"$tmp/meson-consumer/consumer"

echo "== CMake consumer"
cmake -S "$project" -B "$tmp/cmake-consumer" -G Ninja >"$tmp/c2.log" 2>&1 || { cat "$tmp/c2.log"; exit 1; }
cmake --build "$tmp/cmake-consumer" >"$tmp/c2b.log" 2>&1 || { cat "$tmp/c2b.log"; exit 1; }
"$tmp/cmake-consumer/consumer"
