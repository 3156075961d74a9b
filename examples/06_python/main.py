#!/usr/bin/python3
"""06_python: the bus from Python, through the C ABI (python/mmsb over libmmsb_c) and numpy.

Shows: a durable bus in a directory, deltas pushed from numpy arrays (sparse: slots and values;
dense: a mask and a payload), ticks that commit them as epochs, zero-copy read-only numpy views
of the pages, reopening the directory (the state survives, shape read from the store), and
replaying a past epoch's hash. The result is checked against a plain numpy reference that applies
the same changes; the script exits 1 on a mismatch.

  numpy arrays ──push──> bus (plus_times<f64>, dense<f64, 256> pages) ──tick──> epoch 1, 2, ...
                          │ log + checkpoint in DIR                     │
                          └──── reopen DIR: same pages, same hash ──────┴─> bus.page(i): a view,
                                                                           no copy
usage: main.py [--pages N] [--ticks N] [--seed N] [--dir DIR]

Run it with MMSB_C_LIBRARY=path/to/libmmsb_c.so and PYTHONPATH=python (meson test sets both).
"""
import argparse
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print(f"SKIP: {sys.executable} cannot import numpy (install Debian python3-numpy)")
    sys.exit(77)

import mmsb

EXTENT = 256


def positive(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if not 1 <= n <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{n} is out of range (1 to 1000000)")
    return n


def main():
    ap = argparse.ArgumentParser(description="the MMSB bus from Python, end to end")
    ap.add_argument("--pages", type=positive, default=8, help="pages of 256 balances (default 8)")
    ap.add_argument("--ticks", type=positive, default=20, help="ticks of random deposits (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--dir", help="the store's directory (default: a new temporary one)")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    reference = np.zeros((args.pages, EXTENT))
    with tempfile.TemporaryDirectory(prefix="mmsb-06-") as tmp:
        path = args.dir or f"{tmp}/ledger"
        hashes = {}
        with mmsb.Bus(path, "plus_times<f64>", extent=EXTENT, sync=False) as bus:
            if bus.epoch != 0:
                print(f"{path} already holds a store (epoch {bus.epoch}); give an empty --dir", file=sys.stderr)
                return 2
            pages = [bus.create_page() for _ in range(args.pages)]
            for _ in range(args.ticks):
                for p in pages:
                    # sparse deposits: a few slots, repeats allowed (they add up)
                    slots = rng.integers(0, EXTENT, size=16)
                    amounts = rng.integers(1, 100, size=16).astype(np.float64)
                    bus.push(p, slots, amounts)
                    np.add.at(reference[p], slots, amounts)
                # a dense correction on one page: reset every 32nd balance to a fixed value
                p = int(rng.integers(0, args.pages))
                mask = np.zeros(EXTENT, dtype=bool)
                mask[::32] = True
                bus.push_dense(p, mask, np.full(EXTENT, 1000.0), op="assign")
                reference[p][mask] = 1000.0
                epoch = bus.tick()
                hashes[epoch] = bus.state_hash()

            views = [bus.page(p) for p in pages]  # no copies: numpy over the bus's own pages
            assert all(not v.flags.writeable for v in views)
            live = np.stack(views)
            if not np.array_equal(live, reference):
                print("MISMATCH: the bus's pages differ from the numpy reference", file=sys.stderr)
                return 1
            final_hash = bus.state_hash()
            final_epoch = bus.epoch

        with mmsb.Bus(path) as bus:  # reopen: the shape comes from the store
            if bus.epoch != final_epoch or bus.state_hash() != final_hash:
                print("MISMATCH: the reopened bus differs", file=sys.stderr)
                return 1
            if not np.array_equal(np.stack([bus.page(p) for p in range(args.pages)]), reference):
                print("MISMATCH: the reopened pages differ from the reference", file=sys.stderr)
                return 1
            mid = max(1, final_epoch // 2)
            if bus.hash_at(mid) != hashes[mid]:
                print(f"MISMATCH: replaying epoch {mid} gives another hash", file=sys.stderr)
                return 1
            total = sum(float(bus.page(p).sum()) for p in range(args.pages))

    print(f"06_python: {args.pages} pages, {final_epoch} ticks, total balance {total:.0f}; "
          f"reopened and replayed epoch {mid}: equal")
    print(f"state hash {final_hash:016x}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except mmsb.Error as e:  # a bad --dir, a damaged store: a message, not a traceback
        print(f"06_python: {e}", file=sys.stderr)
        sys.exit(2)
