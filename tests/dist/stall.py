#!/usr/bin/env python3
"""A rank that is alive but never reaches the tick's collective: the distributed bus must end the
job within its collective timeout (2 s in `test_dist_mpi_bus --stall`), with a message naming the
call it waited in, rather than hang. Usage: stall.py MPIRUN TEST_BINARY (Open MPI's environment
comes from meson: shared memory and loopback only)."""
import subprocess
import sys
import time

mpirun, binary = sys.argv[1], sys.argv[2]
began = time.monotonic()
try:
    r = subprocess.run([mpirun, "-np", "2", binary, "--stall"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90)
except subprocess.TimeoutExpired:
    sys.exit("FAILED: the job hung for 90 s: the collective timeout did not end it")
took = time.monotonic() - began
out = r.stdout
print(out)
failures = []
if r.returncode == 0:
    failures.append("mpirun exited 0: the job should have ended with an error")
if "past the bus's collective timeout" not in out or "MPI_Ia" not in out:
    failures.append("no message naming the collective the rank waited in")
if "returned without rank 1" in out:
    failures.append("a tick returned without rank 1")
if took > 60:
    failures.append(f"took {took:.0f} s: rank 1 sleeps 120 s, the timeout is 2 s")
print(f"stall: mpirun exited {r.returncode} after {took:.1f} s")
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
print("stall: the job ended with the timeout's message")
