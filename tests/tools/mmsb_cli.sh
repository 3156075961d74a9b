#!/usr/bin/env bash
# The mmsb command (docs/tool.md) against stores a real bus wrote (make_store.cpp):
#   replay's state hash equals the bus's at every epoch the files reach, before and after a
#   checkpoint, for four shapes; --dump's CSV and JSON hold the values; stat and diff; every
#   command's --json parses; a table of bad invocations and damaged files each gets its exit
#   status (2, or 1 for verify's damage) and a one-line message naming the option or path, never
#   a crash (a status over 128 would be a signal).
set -uo pipefail
mmsb=$(realpath "$1") make_store=$(realpath "$2")  # absolute: the test works in its temp dir
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
json() {  # json PYTHON-EXPR -- command...: with --json added, stdout parses as JSON and EXPR (over d) holds
  local check=$1; shift 2
  "$@" --json >"$tmp/out.json" 2>"$tmp/err.txt"
  local got=$?
  [ "$got" -le 1 ] || fail "$* exited $got: $(cat "$tmp/err.txt")"
  python3 - "$tmp/out.json" "$check" <<'PY' || fail "$*: --json output is not valid JSON or fails: $check"
import json, sys
d = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), sys.argv[2]
PY
  echo "\$ ${*#$mmsb } --json -> JSON ok: $check"
}

"$make_store" "$tmp" >"$tmp/hashes.txt" || fail "make_store"
cd "$tmp" || fail "cd"

# --- replay: the state hash is the bus's --------------------------------------------------------
# Store a was checkpointed at epoch 20 (its log before that is gone), b never was: b covers
# epochs 0-40 from the log alone, a covers 20 (the checkpoint alone) to 40 (checkpoint + log).
python3 - "$mmsb" "$tmp/hashes.txt" <<'PY' || fail "replay's hash is not the bus's"
import json, subprocess, sys
mmsb, checked = sys.argv[1], 0
for line in open(sys.argv[2]):
    kind, store, e, want = line.split()
    if store == 'e' or (store == 'a' and int(e) < 20):
        continue
    out = subprocess.run([mmsb, 'replay', store, '--epoch', e, '--json'], capture_output=True, text=True)
    assert out.returncode == 0, f'replay {store} --epoch {e}: exit {out.returncode}: {out.stderr}'
    got = json.loads(out.stdout)['state_hash']
    assert got == want, f'replay {store} --epoch {e}: hash {got}, the bus ({kind}) says {want}'
    checked += 1
print(f'replay hash == bus hash at {checked} (store, epoch) pairs')
assert checked >= 79, f'only {checked} compared'
PY
last_a=$(awk '$1 == "hash" && $2 == "a" { h = $4 } END { print h }' "$tmp/hashes.txt")
expect 0 "state hash: $last_a" -- "$mmsb" replay a
expect 0 "at epoch 40: checkpoint a/checkpoints/ckpt-0000000000000014.ckpt, then 20 commits" -- "$mmsb" replay a
expect 0 "at epoch 20: checkpoint .*, then 0 commits" -- "$mmsb" replay a --epoch 20
expect 0 "at epoch 7: the empty state, then 7 commits" -- "$mmsb" replay b --epoch=7
expect 2 "epoch 10 cannot be rebuilt: .*oldest reachable epoch is 20" -- "$mmsb" replay a --epoch 10

# --- replay --dump ---------------------------------------------------------------------------------
"$mmsb" replay c --dump >"$tmp/c.csv" || fail "replay c --dump"
head -n1 "$tmp/c.csv" | grep -qx 'page,epoch,slot,value' || fail "CSV header"
[ "$(wc -l <"$tmp/c.csv")" -eq 11 ] || fail "CSV rows: 2 pages x 5 slots + header expected"
for row in 0,3,0,2.5 0,3,1,inf 0,3,2,-3 1,4,1,0.1 1,4,3,1e+20; do
  grep -qx "$row" "$tmp/c.csv" || fail "CSV lacks $row"
done
echo "replay c --dump: CSV as expected"
json 'd["page_values"][1]["values"] == ["inf", 0.1, "inf", 1e20, "inf"] and d["epoch"] == 4' -- "$mmsb" replay c --dump
json '[p["values"][:3] for p in d["page_values"]][3] == [7, 7, 7] and d["state_hash"] != ""' -- "$mmsb" replay a --dump
json '[i for i, v in enumerate(d["page_values"][0]["values"]) if v] == [65, 69]' -- "$mmsb" replay d --dump
expect 0 "^0,3,65,1$" -- "$mmsb" replay d --dump

# --- stat --------------------------------------------------------------------------------------------
expect 0 "epochs: 20 to 40" -- "$mmsb" stat a
expect 0 "epoch 20 +[0-9]+ bytes +valid: 4 pages" -- "$mmsb" stat a
expect 0 "damage: none" -- "$mmsb" stat a
json 'd["first_epoch"] == 20 and d["last_epoch"] == 40 and d["log"]["segments"] >= 1 and d["log"]["commits"] == 20 and d["checkpoints"][0]["valid"] and d["total_bytes"] > 0 and d["damage"] == []' -- "$mmsb" stat a
json 'd["first_epoch"] == 0 and d["last_epoch"] == 40 and d["checkpoints"] == []' -- "$mmsb" stat b

# --- diff --------------------------------------------------------------------------------------------
expect 0 "equal: every page and slot is the same" -- "$mmsb" diff a b --epoch 25
expect 1 "page 1 slot 5: 44 \| 1044" -- "$mmsb" diff a b
expect 1 "1 pages differ \(2 slots\)" -- "$mmsb" diff a b --epoch 30
json 'not d["equal"] and d["pages"] == [{"page": 1, "slots": [{"slot": 5, "left": 44, "right": 1044}, {"slot": 29, "left": 30, "right": 0}]}]' -- "$mmsb" diff a b
json 'd["equal"] and d["left"]["state_hash"] == d["right"]["state_hash"]' -- "$mmsb" diff a b --epoch 29
expect 2 "cannot compare a and c: their shapes differ" -- "$mmsb" diff a c

# --- every command's --json parses ----------------------------------------------------------------------
for cmd in "replay a" "replay d --dump" "stat c" "stat e" "diff c c" "log dump a" "log verify a" "log replay a --to 30" "checkpoint verify a" "log verify e"; do
  # shellcheck disable=SC2086
  json 'isinstance(d, dict)' -- "$mmsb" $cmd
done

# --- a custom semiring: no replay, but the files are still inspected -----------------------------------
expect 2 "cannot rebuild state for shape 'mmsb-shape/1 semiring=test_custom .*': only the built-in semirings" -- "$mmsb" replay e
expect 0 "semiring=test_custom|test_custom" -- "$mmsb" stat e
expect 0 "records in" -- "$mmsb" log verify e
expect 0 "commit" -- "$mmsb" log dump e

# --- the shape in words, the dry run (as before) -----------------------------------------------------------
shape_words='plus_times<i64> \(commutative, inverse, exact\) over dense pages of 32 i64 \(8 bytes each; 256 bytes per page\)'
expect 0 "shape: $shape_words" -- "$mmsb" log verify a
expect 0 "\"shape\": \"$shape_words" -- "$mmsb" log verify a --json
expect 0 "shape: $shape_words" -- "$mmsb" log dump a
expect 0 "valid: 4 pages" -- "$mmsb" checkpoint verify a
expect 0 "shape: $shape_words" -- "$mmsb" checkpoint verify a
expect 0 "reachable" -- "$mmsb" log replay a --to 40
expect 1 "NOT reachable" -- "$mmsb" log replay a --to 90
expect 0 "Exit status" -- "$mmsb" help

# --- bad invocations: exit 2, one line naming the option or path ------------------------------------------
one_line() {  # one_line PATTERN -- command...: exit 2, exactly one line on stderr, matching
  local pattern=$1; shift 2
  "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"
  local got=$?
  echo "\$ ${*#$mmsb } -> $got: $(cat "$tmp/err.txt")"
  [ "$got" -eq 2 ] || fail "exit $got, expected 2"
  [ "$(wc -l <"$tmp/err.txt")" -eq 1 ] || fail "expected one line on stderr"
  grep -Eq "^mmsb: .*$pattern" "$tmp/err.txt" || fail "stderr lacks /$pattern/"
}
one_line "no command" -- "$mmsb"
one_line "unknown command 'frobnicate'" -- "$mmsb" frobnicate a
one_line "unknown command 'log frobnicate'" -- "$mmsb" log frobnicate a
one_line "$tmp/missing: no such directory" -- "$mmsb" replay "$tmp/missing"
one_line "$tmp/hashes.txt: not a directory" -- "$mmsb" stat "$tmp/hashes.txt"
one_line "no readable log segment or checkpoint" -- "$mmsb" replay "$tmp/c/log"
one_line "no readable log segment|no log segments" -- "$mmsb" log verify "$tmp/a/checkpoints"
one_line "replay: missing DIR \(usage: mmsb replay DIR" -- "$mmsb" replay
one_line "diff: missing DIR2" -- "$mmsb" diff a
one_line "stat: unexpected argument 'b'" -- "$mmsb" stat a b
one_line "unknown option '--frob'" -- "$mmsb" replay a --frob
one_line "unknown option '-x'" -- "$mmsb" stat a -x
one_line "option --epoch needs a value" -- "$mmsb" replay a --epoch
one_line "--epoch: '-5' is not an epoch" -- "$mmsb" replay a --epoch -5
one_line "--epoch: 'abc' is not an epoch" -- "$mmsb" replay a --epoch abc
one_line "--epoch: '3x' is not an epoch" -- "$mmsb" diff a b --epoch=3x
one_line "--epoch: '99999999999999999999' is not an epoch" -- "$mmsb" replay a --epoch 99999999999999999999
one_line "--to: '-1' is not an epoch" -- "$mmsb" log replay a --to -1
one_line "top: missing DIR \(usage: mmsb top DIR" -- "$mmsb" top
one_line "--count: 'x' is not a count" -- "$mmsb" top a --count x
one_line "replay takes no --count option" -- "$mmsb" replay a --count 2
one_line "stats file $tmp/a.stats: cannot open it" -- "$mmsb" top "$tmp/a" --count 1
one_line "stats file $tmp/hashes.txt.stats: cannot open it" -- "$mmsb" top "$tmp/hashes.txt"
one_line "log replay: missing --to EPOCH" -- "$mmsb" log replay a
one_line "stat takes no --epoch option" -- "$mmsb" stat a --epoch 3
one_line "log verify takes no --dump option" -- "$mmsb" log verify a --dump
one_line "epoch 90 is beyond the log: the latest recoverable epoch is 40" -- "$mmsb" replay a --epoch 90
one_line "a: epoch 41 is beyond the log" -- "$mmsb" diff a b --epoch 41

# --- damaged files ----------------------------------------------------------------------------------------------
cp -r a x
seg=$(ls x/log/*.seg | head -n1)
python3 - "$seg" <<'PY'
import sys
# a byte inside the payload of the third record (the second commit): records are a 40-byte
# header, with the payload length at offset 4, then the payload (the first one holds the shape)
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
at = 0
for _ in range(2): at += 40 + int.from_bytes(b[at + 4:at + 8], 'little')
b[at + 48] ^= 0x40; open(p, 'wb').write(b)
PY
expect 1 "CORRUPTION at .*offset [0-9]+: checksum mismatch" -- "$mmsb" log verify x
expect 1 "BAD: checksum mismatch .*corruption" -- "$mmsb" log dump x
expect 1 "\"corruption\": true" -- "$mmsb" log verify x --json
one_line "log corruption at x/log/.*offset [0-9]+: checksum mismatch" -- "$mmsb" replay x
one_line "log corruption at x/log/" -- "$mmsb" diff a x
expect 0 "note: log corruption at x/log/" -- "$mmsb" replay x --epoch 21  # before the damage: rebuilt, with a note
expect 0 "log corruption at x/log/.*checksum mismatch" -- "$mmsb" stat x
json 'len(d["damage"]) == 1' -- "$mmsb" stat x

cp -r a y
ckpt=$(ls y/checkpoints/*.ckpt | head -n1)
python3 - "$ckpt" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 2] ^= 0x01; open(p, 'wb').write(b)
PY
expect 1 "DAMAGED: checksum mismatch at offset [0-9]+" -- "$mmsb" checkpoint verify y
one_line "epoch 25 cannot be rebuilt: .*damaged checkpoint y/checkpoints/ckpt-0000000000000014.ckpt: checksum mismatch" -- "$mmsb" replay y --epoch 25
one_line "cannot be rebuilt" -- "$mmsb" replay y
expect 0 "damaged checkpoint y/checkpoints/" -- "$mmsb" stat y

cp -r a z  # a torn tail (a crash mid-append) is no damage to replay: the state before it is whole
truncate -s -10 "$(ls z/log/*.seg | head -n1)"
expect 0 "note: torn log tail" -- "$mmsb" replay z
one_line "epoch 40 is beyond the log: the latest recoverable epoch is 39; torn log tail" -- "$mmsb" replay z --epoch 40

mkdir -p v/log && head -c 1000 /dev/zero >"v/log/$(ls a/log | head -n1)"
one_line "v: no readable log segment or checkpoint" -- "$mmsb" replay v
one_line "v: no readable log segment or checkpoint" -- "$mmsb" stat v
echo "PASS"
