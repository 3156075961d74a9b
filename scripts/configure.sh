#!/usr/bin/env bash
# Runs the set-up, then configures (once) and builds a meson build directory.
#   scripts/configure.sh BUILD_DIR [meson options...]
# Reconfigures when the options change; a plain `meson setup build` works too once set-up ran.
# MMSB_BUILD_TARGETS (space-separated ninja targets) builds only those instead of everything.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: configure.sh BUILD_DIR [meson options...]}; shift
kokkos_prefix=$("$here/scripts/setup.sh" | tail -n1)
cd "$here"
opts=(--wrap-mode=nodownload "-Dcmake_prefix_path=$kokkos_prefix" "$@")
stamp="$build/.mmsb-options"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "${opts[@]}"
elif [ "$(cat "$stamp" 2>/dev/null)" != "${opts[*]}" ]; then
  meson setup --reconfigure "$build" "${opts[@]}"
fi
printf '%s' "${opts[*]}" > "$stamp"
# shellcheck disable=SC2086  # a list of targets
ninja -C "$build" ${MMSB_BUILD_TARGETS:-}
