#!/usr/bin/env bash
# usage: run.sh MMSB_SOURCE_DIR CONSUMER_DIR [CMAKE_PREFIX_PATH]
#
# Installs MMSB (the lean set-up of docs/install.md) from a fresh configure of the source tree into
# a temporary prefix, then builds and runs the consumer projects of CONSUMER_DIR against it:
#   1. project/ with CMake: find_package(mmsb CONFIG), mmsb::mmsb, and mmsb::kokkos where built
#   2. components/ with CMake: a component this install lacks fails find_package with its message
#   3. project/ with meson through pkg-config (the Kokkos variant where MMSB was built with Kokkos)
#   4. mmsb/kokkos.hpp without Kokkos on the include path stops with MMSB's #error, not a bare
#      missing-file error
# CMAKE_PREFIX_PATH (the outer build's -Dcmake_prefix_path, ':'-separated or empty) is where the
# install looks for Kokkos; without a Kokkos there, MMSB is installed without it.
set -euo pipefail
src=$1 consumer=$2 prefix_path=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsb-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Compiler environment (sanitizer flags of the outer build) must not leak into these builds.
unset CFLAGS CXXFLAGS LDFLAGS
export OMP_NUM_THREADS=2 OMP_PROC_BIND=false
prefix=$tmp/prefix
start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
# run_logged LOG CMD...: CMD's output goes to LOG, shown only if it fails.
run_logged() { local log=$1; shift; "$@" >"$log" 2>&1 || { cat "$log"; fail "$*"; }; }

kokkos=disabled
if [ -n "$prefix_path" ]; then
  IFS=: read -r -a dirs <<<"$prefix_path"
  for d in "${dirs[@]}"; do
    if compgen -G "$d/lib*/cmake/Kokkos/KokkosConfig.cmake" >/dev/null; then kokkos=enabled; fi
  done
fi

step "install MMSB into $prefix (lean: no tests, examples, benchmarks; Kokkos $kokkos)"
setup_args=(--prefix="$prefix" --wrap-mode=nodownload -Dtests=false -Dexamples=false -Dbenchmarks=false
            -Dcuda=disabled -Dcapi=false -Dkokkos=$kokkos)
[ "$kokkos" = enabled ] && setup_args+=(-Dcmake_prefix_path="$prefix_path")
run_logged "$tmp/setup.log" meson setup "$tmp/mmsb-build" "$src" "${setup_args[@]}"
run_logged "$tmp/install.log" meson install -C "$tmp/mmsb-build"
pc=$(find "$prefix" -name mmsb.pc | head -n1)
config=$(find "$prefix" -name mmsbConfig.cmake | head -n1)
[ -n "$pc" ] || fail "mmsb.pc was not installed"
[ -n "$config" ] || fail "mmsbConfig.cmake was not installed"
[ -f "$(dirname "$config")/mmsbConfigVersion.cmake" ] || fail "mmsbConfigVersion.cmake was not installed"
echo "   mmsb.pc:          ${pc#"$prefix"/}"
echo "   mmsbConfig.cmake: ${config#"$prefix"/}"
export PKG_CONFIG_PATH=$(dirname "$pc")
echo "   pkg-config --cflags mmsb: $(pkg-config --cflags mmsb)"
echo "   pkg-config --libs mmsb:   $(pkg-config --libs mmsb)"
if [ "$kokkos" = enabled ]; then
  pkg-config --cflags mmsb | grep -q -- -fopenmp || fail "MMSB was built with Kokkos, but mmsb.pc lacks -fopenmp"
  pkg-config --libs mmsb | grep -q -- -lkokkoscore || fail "MMSB was built with Kokkos, but mmsb.pc lacks -lkokkoscore"
fi

step "CMake consumer: find_package(mmsb CONFIG REQUIRED OPTIONAL_COMPONENTS Kokkos Prometheus MPI)"
# With a Kokkos around, consumer_own_kokkos also links mmsb::mmsb with find_package(Kokkos)'s
# Kokkos::kokkos: the user's own Kokkos, which mmsb/kokkos.hpp takes whatever MMSB was built with.
cmake_args=(-DCMAKE_PREFIX_PATH="$prefix")
[ "$kokkos" = enabled ] && cmake_args=(-DCMAKE_PREFIX_PATH="$prefix;${prefix_path//:/;}" -DMMSB_CONSUMER_OWN_KOKKOS=ON)
run_logged "$tmp/cmake.log" cmake -S "$consumer/project" -B "$tmp/cmake-consumer" -G Ninja "${cmake_args[@]}"
grep "mmsb 0" "$tmp/cmake.log" || true
run_logged "$tmp/cmake-build.log" cmake --build "$tmp/cmake-consumer"
"$tmp/cmake-consumer/consumer"
if [ "$kokkos" = enabled ]; then
  [ -x "$tmp/cmake-consumer/consumer_kokkos" ] || fail "MMSB was built with Kokkos, but the package gave no mmsb::kokkos"
  "$tmp/cmake-consumer/consumer_kokkos"
  "$tmp/cmake-consumer/consumer_own_kokkos"
fi

step "CMake: components this install lacks fail find_package, naming why"
# expect_refused COMPONENT TEXT: find_package(mmsb REQUIRED COMPONENTS COMPONENT) fails, saying TEXT.
expect_refused() {
  local log=$tmp/component-$1.log
  if cmake -S "$consumer/components" -B "$tmp/components-$1" -Dmmsb_DIR="$(dirname "$config")" -DMMSB_REQUEST="$1" >"$log" 2>&1; then
    cat "$log"; fail "find_package(mmsb COMPONENTS $1) succeeded on an install without it"
  fi
  grep -q "$2" "$log" || { cat "$log"; fail "find_package(mmsb COMPONENTS $1) failed without saying '$2'"; }
  echo "   COMPONENTS $1: refused: $(sed -n '/^ *mmsb: /,/^$/p' "$log" | tr -s ' \n' '  ')"
}
expect_refused MPI "component MPI was not built"
expect_refused Prometheus "component Prometheus was not built"
expect_refused CUDA "component CUDA was not built"
expect_refused Bogus "unknown component 'Bogus'"
[ "$kokkos" = enabled ] || expect_refused Kokkos "component Kokkos was not built"

if [ "$kokkos" = enabled ]; then
  step "meson consumer through pkg-config: kokkos_scheduler with the Kokkos and OpenMP flags of mmsb.pc"
  run_logged "$tmp/meson.log" meson setup "$tmp/meson-consumer" "$consumer/project" -Dkokkos=true
  run_logged "$tmp/meson-build.log" ninja -C "$tmp/meson-consumer"
  "$tmp/meson-consumer/consumer_kokkos"
else
  step "meson consumer through pkg-config"
  run_logged "$tmp/meson.log" meson setup "$tmp/meson-consumer" "$consumer/project"
  run_logged "$tmp/meson-build.log" ninja -C "$tmp/meson-consumer"
  "$tmp/meson-consumer/consumer"
fi

step "mmsb/kokkos.hpp with no Kokkos on the include path: MMSB's own #error"
printf '#include <mmsb/kokkos.hpp>\n' >"$tmp/no_kokkos.cpp"
cccl=$(pkg-config --cflags-only-other mmsb | grep -o -- '-isystem [^ ]*' | head -n1 | cut -d' ' -f2)
if c++ -std=c++20 -fsyntax-only -I"$prefix/include" -isystem "$cccl" "$tmp/no_kokkos.cpp" >"$tmp/no_kokkos.log" 2>&1; then
  fail "mmsb/kokkos.hpp compiled without Kokkos"
fi
grep -q "mmsb: mmsb/kokkos.hpp needs Kokkos" "$tmp/no_kokkos.log" || { cat "$tmp/no_kokkos.log"; fail "no MMSB #error for a missing Kokkos"; }
echo "   refused: $(grep -o 'mmsb: mmsb/kokkos.hpp needs Kokkos[^;]*' "$tmp/no_kokkos.log" | head -n1)"

step "all consumers passed"
