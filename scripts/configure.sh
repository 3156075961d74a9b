#!/usr/bin/env bash
# Runs the set-up, then configures (once) and builds a meson build directory.
#   scripts/configure.sh BUILD_DIR [meson options...]
# Reconfigures when the options change, and starts the directory afresh when the compiler ($CXX,
# default: meson's choice) changes; a plain `meson setup build` works too once set-up ran.
# MMSB_BUILD_TARGETS (space-separated ninja targets) builds only those instead of everything.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: configure.sh BUILD_DIR [meson options...]}; shift
kokkos_prefix=$("$here/scripts/setup.sh" | tail -n1)
cd "$here"
opts=(--wrap-mode=nodownload "-Dcmake_prefix_path=$kokkos_prefix" "$@")
stamp="$build/.mmsb-options"
compiler_stamp="$build/.mmsb-compiler"
if [ -f "$build/build.ninja" ] && [ "$(cat "$compiler_stamp" 2>/dev/null)" != "${CXX:-}" ]; then
  rm -rf "$build"  # meson cannot change a build directory's compiler
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "${opts[@]}"
elif [ "$(cat "$stamp" 2>/dev/null)" != "${opts[*]}" ]; then
  meson setup --reconfigure "$build" "${opts[@]}"
fi
printf '%s' "${opts[*]}" > "$stamp"
printf '%s' "${CXX:-}" > "$compiler_stamp"
# shellcheck disable=SC2086  # a list of targets
ninja -C "$build" ${MMSB_BUILD_TARGETS:-}
