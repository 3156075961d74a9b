#!/usr/bin/env bash
# The mmsb command on a healthy store, then on a corrupted log and a corrupted checkpoint:
# each damage is diagnosed with the file, the offset and the reason, with exit status 1.
set -uo pipefail
mmsb=$1 make_store=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsb-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect STATUS PATTERN -- command...
  local want=$1 pattern=$2; shift 3
  local out; out=$("$@" 2>&1); local got=$?
  echo "\$ ${*#$mmsb } -> $got"; echo "$out" | sed 's/^/    /' | head -12
  [ "$got" -eq "$want" ] || fail "exit $got, expected $want"
  # A here-string, not echo | grep -q: under pipefail grep's early exit can SIGPIPE the echo.
  [ -z "$pattern" ] || grep -Eq "$pattern" <<<"$out" || fail "output lacks /$pattern/"
}

"$make_store" "$tmp/db" >/dev/null || fail "make_store"
expect 0 "0 segments|records in" -- "$mmsb" log verify "$tmp/db"
# The shape in words (mmsb/bus/shape.hpp's descriptor, as make_store writes it).
shape_words='plus_times<i64> \(commutative, inverse, exact\) over dense pages of 32 i64 \(8 bytes each; 256 bytes per page\)'
expect 0 "shape: $shape_words" -- "$mmsb" log verify "$tmp/db"
expect 0 "\"shape\": \"$shape_words" -- "$mmsb" log verify "$tmp/db" --json
expect 0 "commit" -- "$mmsb" log dump "$tmp/db"
expect 0 "shape: $shape_words" -- "$mmsb" log dump "$tmp/db"
expect 0 "valid: 3 pages" -- "$mmsb" checkpoint verify "$tmp/db"
expect 0 "shape: $shape_words" -- "$mmsb" checkpoint verify "$tmp/db"
expect 0 "reachable" -- "$mmsb" log replay "$tmp/db" --to 40
expect 1 "NOT reachable" -- "$mmsb" log replay "$tmp/db" --to 90
expect 0 "" -- python3 -c "import json,subprocess,sys; json.loads(subprocess.run(['$mmsb','log','verify','$tmp/db','--json'],capture_output=True,text=True).stdout)"
expect 2 "no readable log segment|no log segments" -- "$mmsb" log verify "$tmp"
expect 2 "no such directory" -- "$mmsb" log verify "$tmp/missing"
expect 2 "usage" -- "$mmsb" log frobnicate "$tmp/db"

seg=$(ls "$tmp"/db/log/*.seg | head -n1)
cp "$seg" "$tmp/seg.orig"
python3 - "$seg" <<'PY'
import sys
# a byte inside the payload of the third record (the second commit): records are a 40-byte
# header, with the payload length at offset 4, then the payload (the first one holds the shape)
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
at = 0
for _ in range(2): at += 40 + int.from_bytes(b[at + 4:at + 8], 'little')
b[at + 48] ^= 0x40; open(p, 'wb').write(b)
PY
expect 1 "CORRUPTION at .*offset [0-9]+: checksum mismatch" -- "$mmsb" log verify "$tmp/db"
expect 1 "BAD: checksum mismatch .*corruption" -- "$mmsb" log dump "$tmp/db"
expect 1 "\"corruption\": true" -- "$mmsb" log verify "$tmp/db" --json
cp "$tmp/seg.orig" "$seg"

ckpt=$(ls "$tmp"/db/checkpoints/*.ckpt | head -n1)
python3 - "$ckpt" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 2] ^= 0x01; open(p, 'wb').write(b)
PY
expect 1 "DAMAGED: checksum mismatch at offset [0-9]+" -- "$mmsb" checkpoint verify "$tmp/db"
echo "PASS"
