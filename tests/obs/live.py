#!/usr/bin/env python3
"""A running bus seen from outside its process (docs/observability.md):

1. its exporter's /metrics, scraped directly, is Prometheus' text format with every family;
2. `mmsb top DIR` reads its stats file while it runs (text and JSON), and says when it is gone;
3. a real Prometheus server (Debian's `prometheus`, started here on a free loopback port with a
   temporary config and storage, stopped by its PID) scrapes it, and its HTTP API returns the
   bus's series with plausible values.

usage: live.py SERVE MMSB   (SERVE: tests/obs/serve.cpp; MMSB: the mmsb command)
Exits 77 (skipped) when the prometheus binary is missing; scripts/setup.sh installs it and
.ci/run requires this test to have run.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SERVE, MMSB = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, name):
    """SIGTERM by PID, then SIGKILL after 10 s; returns the exit status."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def samples(text):
    """{series: value} from the text exposition format."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def main():
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("SKIPPED: the prometheus server is not installed (scripts/setup.sh installs Debian's prometheus)")
        return 77
    work = tempfile.mkdtemp(prefix="mmsb-live-")
    bus_dir = os.path.join(work, "db")
    serve = subprocess.Popen([SERVE, bus_dir, "120"], stdout=subprocess.PIPE, text=True)
    server = None
    try:
        line = serve.stdout.readline()
        m = re.match(r"port (\d+)$", line.strip())
        if not m:
            check(False, f"serve printed its port (got {line!r}, exit {serve.poll()})")
            return 1
        port = int(m.group(1))
        time.sleep(0.5)  # some ticks

        # 1. The exporter, scraped directly.
        text = get(f"http://127.0.0.1:{port}/metrics")
        s = samples(text)
        check("# TYPE mmsb_ticks_total counter" in text, "mmsb_ticks_total is a counter")
        check("# TYPE mmsb_tick_phase_seconds histogram" in text, "mmsb_tick_phase_seconds is a histogram")
        check("# TYPE mmsb_pages gauge" in text, "mmsb_pages is a gauge")
        check(s.get("mmsb_ticks_total", 0) > 0, f"ticks counted ({s.get('mmsb_ticks_total')})")
        check(s.get("mmsb_pages") == 64, f"mmsb_pages is 64 ({s.get('mmsb_pages')})")
        for phase in ("ingest", "merge", "apply_log", "propagate", "maintain"):
            inf = s.get(f'mmsb_tick_phase_seconds_bucket{{phase="{phase}",le="+Inf"}}')
            count = s.get(f'mmsb_tick_phase_seconds_count{{phase="{phase}"}}')
            check(inf is not None and inf == count and count > 0, f"phase {phase}: +Inf bucket equals the count ({inf}, {count})")
        buckets = [(k, v) for k, v in s.items() if k.startswith('mmsb_tick_seconds_bucket')]
        values = [v for _, v in sorted(buckets, key=lambda kv: float(re.search(r'le="([^"]+)"', kv[0]).group(1).replace("+Inf", "inf")))]
        check(len(values) == 26 and values == sorted(values), "mmsb_tick_seconds' 26 buckets are cumulative")

        # 2. mmsb top, while the bus runs.
        r = subprocess.run([MMSB, "top", bus_dir, "--count", "2"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and "running" in r.stdout and r.stdout.count("mmsb top") == 2,
              f"mmsb top --count 2 showed two frames of a running bus (exit {r.returncode}, {r.stderr.strip()})")
        check(re.search(r"ticks +\d+ \(\d", r.stdout) is not None and "merge" in r.stdout, "mmsb top shows the tick rate and phases")
        print(r.stdout)
        r = subprocess.run([MMSB, "top", bus_dir, "--count", "1", "--json"], capture_output=True, text=True, timeout=30)
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(j.get("running") is True and j.get("pid") == serve.pid, f"top --json names the running pid ({j.get('pid')}, {serve.pid})")
        check(j.get("counters", {}).get("mmsb_ticks_total", 0) > 0 and j.get("ticks_per_second", 0) > 0, "top --json: ticks and a rate")

        # 3. A real Prometheus scrapes it.
        for attempt in range(3):  # the free port may be taken between probing and binding
            prom_port = free_port()
            config = os.path.join(work, "prometheus.yml")
            with open(config, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        f"scrape_configs:\n  - job_name: mmsb\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
            log = open(os.path.join(work, "prometheus.log"), "w")
            server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}"],
                                      stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, GOMAXPROCS="1"))
            ready = False
            for _ in range(100):
                if server.poll() is not None:
                    break
                try:
                    ready = get(f"http://127.0.0.1:{prom_port}/-/ready", timeout=1).strip() != ""
                    break
                except OSError:
                    time.sleep(0.1)
            if ready:
                break
            stop(server, "prometheus")
            server = None
        check(server is not None, "the Prometheus server started")
        if server is None:
            print(open(os.path.join(work, "prometheus.log")).read()[-3000:])
            return 1
        print(f"prometheus (pid {server.pid}) on 127.0.0.1:{prom_port}, scraping 127.0.0.1:{port}")

        def query(q):
            body = json.loads(get(f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": q})))
            if body.get("status") != "success":
                return None
            return [(x["metric"], float(x["value"][1])) for x in body["data"]["result"]]

        deadline = time.monotonic() + 40  # new targets are picked up within about 5-6 s
        first = None
        while time.monotonic() < deadline:
            res = query("mmsb_ticks_total")
            if res:
                first = res[0][1]
                break
            time.sleep(0.5)
        check(first is not None and first > 0, f"Prometheus has mmsb_ticks_total ({first})")
        if first is not None:
            up = query('up{job="mmsb"}')
            check(up and up[0][1] == 1, f"the target is up ({up})")
            check(query("mmsb_pages") and query("mmsb_pages")[0][1] == 64, "mmsb_pages is 64 in Prometheus")
            merge = query('mmsb_tick_phase_seconds_count{phase="merge"}')
            check(merge and merge[0][1] > 0, f"the merge phase's count is there ({merge})")
            phases = query("mmsb_tick_phase_seconds_count")
            check(phases and sorted(m["phase"] for m, _ in phases) == ["apply_log", "ingest", "maintain", "merge", "propagate"],
                  "every phase is a labelled series")
            logb = query("mmsb_log_bytes_total")
            check(logb and logb[0][1] > 0, f"log bytes ({logb})")
            sums = query("mmsb_tick_seconds_sum / mmsb_tick_seconds_count")
            check(sums and 0 < sums[0][1] < 1, f"a mean tick between 0 and 1 s ({sums})")
            # Counters grow: a later scrape sees more ticks.
            later = first
            deadline = time.monotonic() + 15
            while later <= first and time.monotonic() < deadline:
                time.sleep(1)
                later = query("mmsb_ticks_total")[0][1]
            check(later > first, f"mmsb_ticks_total grew between scrapes ({first} -> {later})")
    finally:
        if server is not None:
            check(stop(server, "prometheus") == 0, "prometheus stopped cleanly on SIGTERM")
        rc = stop(serve, "serve")
        check(rc == 0, f"the bus stopped cleanly on SIGTERM (exit {rc})")

    # After the bus is gone, its last values stay readable and top says so.
    r = subprocess.run([MMSB, "top", bus_dir, "--count", "1"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "GONE" in r.stdout, "mmsb top marks a bus whose process is gone")
    r = subprocess.run([MMSB, "top", os.path.join(work, "nope"), "--count", "1"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "nope.stats" in r.stderr, f"mmsb top without a stats file: exit 2 naming it ({r.stderr.strip()})")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failures" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
