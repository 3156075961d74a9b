#!/usr/bin/env bash
# RELIABILITY #9: a real disk-full, on a 384 KiB tmpfs in a private mount namespace. Skips (exit
# 77, with the reason) where the machine does not allow unshare -m and mount.
set -u
prog=$1
if ! unshare -m true 2>/dev/null; then
  echo "SKIP: unshare -m is not permitted here (needs root or user namespaces)"; exit 77
fi
exec unshare -m bash -c '
  mnt=$(mktemp -d) || exit 1
  mount -t tmpfs -o size=384k tmpfs "$mnt" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
  "$1" "$mnt"; rc=$?
  umount "$mnt"; rmdir "$mnt"
  exit $rc' _ "$prog"
