#!/usr/bin/env python3
"""Checks a Chrome trace-event JSON written by obs::tracer (docs/observability.md):
every event has ph, ts, pid and tid; on each thread B/E pairs nest (an E closes the innermost
open B of the same name) and timestamps never go backwards; the zones a busy bus records are
all there. Perfetto's UI and chrome://tracing open files of this form.

usage: check_trace.py TRACE_DEMO   (runs it into a temporary file, then checks the file)
"""
import json
import os
import subprocess
import sys
import tempfile

ZONES = {"tick", "ingest", "merge", "apply_log", "propagate", "maintain", "level", "region", "commit", "checkpoint",
         "producer_push"}


def main():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "trace.json")
        subprocess.run([sys.argv[1], out], check=True)
        with open(out) as f:
            trace = json.load(f)
    events = trace["traceEvents"]
    bad = []
    open_zones, last_ts, names, threads = {}, {}, set(), set()
    for i, e in enumerate(events):
        missing = [k for k in ("ph", "ts", "pid", "tid", "name") if k not in e]
        if missing:
            bad.append(f"event {i} lacks {missing}: {e}")
            continue
        key = (e["pid"], e["tid"])
        threads.add(key)
        if e["ts"] < last_ts.get(key, 0):
            bad.append(f"event {i}: ts {e['ts']} goes back from {last_ts[key]} on thread {key}")
        last_ts[key] = e["ts"]
        stack = open_zones.setdefault(key, [])
        if e["ph"] == "B":
            if e["name"] not in ZONES:
                bad.append(f"event {i}: unknown zone {e['name']}")
            names.add(e["name"])
            stack.append(e["name"])
        elif e["ph"] == "E":
            if not stack or stack[-1] != e["name"]:
                bad.append(f"event {i}: E {e['name']} does not close the innermost open zone {stack[-1:] }")
            else:
                stack.pop()
        else:
            bad.append(f"event {i}: ph {e['ph']} is neither B nor E")
    for key, stack in open_zones.items():
        if stack:
            bad.append(f"thread {key}: zones left open {stack}")
    want = ZONES - {"region"}  # the demo's graph has no fixed-point region
    if not want <= names:
        bad.append(f"zones missing from the trace: {sorted(want - names)}")
    if len(threads) < 4:
        bad.append(f"expected the owner, the checkpoint thread and two producers: {len(threads)} threads")
    print(f"{len(events)} events on {len(threads)} threads; zones: {sorted(names)}")
    for b in bad[:20]:
        print("FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
