#!/usr/bin/env python3
"""A rank that dies: `test_dist_mpi_bus --crash DIR` takes a global checkpoint at tick 3, runs tick
4, and rank 1 dies inside tick 5 at its first local commit (SIGKILL at a kill point; mpirun ends
the job); `--recover DIR` then reopens the same stores and must come back at tick 4, the last
tick every rank finished, with one bus's state hash and rank 1's log cut back, and go on to
ticks 5 to 8 as one bus does. Usage: crash.py MPIRUN TEST_BINARY (Open MPI's environment comes from meson: shared
memory and loopback only). Runs at 2 and 4 ranks."""
import shutil
import subprocess
import sys
import tempfile

mpirun, binary = sys.argv[1], sys.argv[2]
failures = []
for np in ("2", "4"):
    d = tempfile.mkdtemp(prefix="mmsb-dist-crash-")
    try:
        crash = subprocess.run([mpirun, "-np", np, binary, "--crash", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=120)
        print(f"--- -np {np} --crash: exit {crash.returncode}")
        print(crash.stdout[-2000:])
        if crash.returncode == 0:
            failures.append(f"-np {np}: the crashing run exited 0")
        if "dying in tick 5 at its first commit" not in crash.stdout:
            failures.append(f"-np {np}: rank 1 did not reach its crash point")
        rec = subprocess.run([mpirun, "-np", np, binary, "--recover", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
        print(f"--- -np {np} --recover: exit {rec.returncode}")
        print(rec.stdout[-2000:])
        if rec.returncode != 0 or "recovered at tick 4" not in rec.stdout:
            failures.append(f"-np {np}: recovery failed")
    except subprocess.TimeoutExpired:
        failures.append(f"-np {np}: a run hung for 120 s")
    finally:
        shutil.rmtree(d, ignore_errors=True)
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
print("crash: every rank came back at the last tick every rank finished, bit for bit")
