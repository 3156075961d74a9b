#!/usr/bin/env bash
# MMSB set-up: installs the Debian packages the build needs and builds Kokkos (OpenMP + Serial)
# into a cached prefix. Idempotent: a second run does nothing but check. Used by both README
# commands, by bench/report and by CI.
#
#   scripts/setup.sh            install what is missing, print the Kokkos prefix on the last line
#
# Environment:
#   MMSB_DEPS_DIR   cache for built dependencies   (default: ${XDG_CACHE_HOME:-~/.cache}/mmsb)
#   Kokkos_ROOT     use this Kokkos instead of building one (it must have the OpenMP backend)
#   MMSB_NO_APT=1   never call apt-get (for machines where the packages are managed otherwise)
#
# It also prepares real LLVM IR for examples/03_compiler_ir: Debian's lua5.4 source package, every
# .c file of it compiled by clang-14 (-O0 without optnone) and opt -passes=mem2reg, one .ll per
# file in $MMSB_DEPS_DIR/lua-5.4-ir (scripts/run-examples and tests/examples/compiler_ir_lua.py
# look there).
set -euo pipefail

packages=(meson ninja-build pkg-config cmake g++ python3 dpkg-dev doxygen
          libfmt-dev libhwy-dev catch2 libbenchmark-dev libxxhash-dev libzstd-dev
          libgraphblas-dev libmimalloc-dev libjemalloc-dev librocksdb-dev liblmdb-dev
          libboost-dev libreaderwriterqueue-dev libconcurrentqueue-dev libtbb-dev libpng-dev
          clang-16 libclang-rt-16-dev libomp-16-dev valgrind python3-numpy python3-pytest
          prometheus-cpp-dev prometheus clang-14 llvm-14 libopenmpi-dev openmpi-bin)  # clang-16: the second compiler (the ASan+UBSan suite, tests/bus/shape_roundtrip, scripts/check-compilers, scripts/fuzz; clang-14 cannot parse the headers), with its sanitizer runtimes and OpenMP (Kokkos under clang); valgrind: CI's memcheck stage; python3-numpy, python3-pytest: the Python module's tests and examples/06_python (for /usr/bin/python3); prometheus-cpp-dev: the Prometheus exporter (libmmsb_prometheus); prometheus: the real server tests/obs/live.py starts; clang-14, llvm-14 (opt): Lua 5.4 compiled to LLVM IR for examples/03_compiler_ir; libopenmpi-dev, openmpi-bin: the distributed bus (mmsb/dist/) and its tests under mpirun

log() { printf 'mmsb-setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root to run: $*"; return 1; fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
}

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${MMSB_NO_APT:-0}" = 1 ]; then log "missing packages: ${missing[*]} (MMSB_NO_APT=1)"; return 1; fi
  log "installing: ${missing[*]}"
  apt_update_once
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Source packages need deb-src entries. Derive them from this machine's own Debian sources
# (deb822 or one-line format) so no archive host is ever written into the repository.
ensure_deb_src() {
  if apt-cache showsrc trilinos 2>/dev/null | grep '^Package: trilinos' >/dev/null; then return 0; fi
  local d=/etc/apt/sources.list.d
  if [ -f "$d/debian.sources" ]; then
    sed -e 's/^Types: deb$/Types: deb-src/' "$d/debian.sources" | as_root tee "$d/mmsb-deb-src.sources" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' | as_root tee "$d/mmsb-deb-src.list" >/dev/null
  else
    log "no Debian apt sources found to derive deb-src entries from"; return 1
  fi
  apt_updated=0; apt_update_once
}

deps_dir=${MMSB_DEPS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsb}
kokkos_version=3.4.1
kokkos_prefix=$deps_dir/kokkos-$kokkos_version

build_kokkos() {
  if [ -n "${Kokkos_ROOT:-}" ]; then kokkos_prefix=$Kokkos_ROOT; log "using Kokkos_ROOT=$Kokkos_ROOT"; return 0; fi
  if [ -f "$kokkos_prefix/.mmsb-complete" ]; then return 0; fi
  ensure_deb_src
  local work; work=$(mktemp -d "${TMPDIR:-/tmp}/mmsb-kokkos.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  log "fetching Debian's trilinos source package (Kokkos $kokkos_version lives in packages/kokkos)"
  (cd "$work" && apt-get source --download-only -qq trilinos >/dev/null 2>&1) || {
    log "apt-get source trilinos failed"; return 1; }
  local tarball; tarball=$(ls "$work"/trilinos_*.orig.tar.* | head -n1)
  tar -xf "$tarball" -C "$work" --wildcards '*/packages/kokkos/*'
  local src; src=$(ls -d "$work"/*/packages/kokkos)
  grep -q "set(Kokkos_VERSION_MINOR 4)" "$src/CMakeLists.txt" || log "warning: trilinos ships a Kokkos other than 3.4"
  log "building Kokkos (OpenMP + Serial, C++20, static) into $kokkos_prefix"
  rm -rf "$kokkos_prefix"
  cmake -S "$src" -B "$work/build" -G Ninja -Wno-dev \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$kokkos_prefix" \
    -DCMAKE_CXX_STANDARD=20 -DCMAKE_CXX_COMPILER=g++ -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_SERIAL=ON -DBUILD_SHARED_LIBS=OFF \
    -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF >"$work/configure.log" 2>&1 \
    || { tail -30 "$work/configure.log" >&2; return 1; }
  cmake --build "$work/build" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; return 1; }
  cmake --install "$work/build" >/dev/null
  touch "$kokkos_prefix/.mmsb-complete"
}

lua_ir_dir=$deps_dir/lua-5.4-ir

prepare_lua_ir() {
  if [ -f "$lua_ir_dir/.mmsb-complete" ]; then return 0; fi
  ensure_deb_src
  local work; work=$(mktemp -d "${TMPDIR:-/tmp}/mmsb-lua.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  log "fetching Debian's lua5.4 source package and compiling it to LLVM IR (clang-14, opt -passes=mem2reg)"
  (cd "$work" && apt-get source --download-only -qq lua5.4 >/dev/null 2>&1) || {
    log "apt-get source lua5.4 failed"; return 1; }
  local tarball; tarball=$(ls "$work"/lua5.4_*.orig.tar.* | head -n1)
  tar -xf "$tarball" -C "$work"
  local src; src=$(ls -d "$work"/lua-5.4*/src)
  rm -rf "$lua_ir_dir"
  mkdir -p "$work/ir"
  local c b
  for c in "$src"/*.c; do
    b=$(basename "$c" .c)
    clang-14 -S -emit-llvm -O0 -Xclang -disable-O0-optnone -DLUA_USE_LINUX -I"$src" "$c" -o "$work/ir/$b.raw.ll" \
      && opt-14 -S -passes=mem2reg "$work/ir/$b.raw.ll" -o "$work/ir/$b.ll" && rm "$work/ir/$b.raw.ll" \
      || { log "compiling $b.c to LLVM IR failed"; return 1; }
  done
  mkdir -p "$(dirname "$lua_ir_dir")"
  mv "$work/ir" "$lua_ir_dir"
  touch "$lua_ir_dir/.mmsb-complete"
}

install_packages
build_kokkos
prepare_lua_ir
echo "$kokkos_prefix"
