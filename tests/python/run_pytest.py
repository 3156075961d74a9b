"""Runs the Python module's pytest suite (tests/python) as one meson test: `/usr/bin/python3
run_pytest.py TESTS_DIR`, which is `python3 -m pytest -q TESTS_DIR` after checking that numpy and
pytest are there. Without them it exits 77, which meson reports as a skip (scripts/setup.sh
installs python3-numpy and python3-pytest, so CI runs the suite for real)."""
import os
import sys

if os.environ.get("MMSB_PYTHON_SKIP"):
    print("SKIP: " + os.environ["MMSB_PYTHON_SKIP"])
    sys.exit(77)

missing = []
for name in ("numpy", "pytest"):
    try:
        __import__(name)
    except ImportError:
        missing.append(name)
if missing:
    print(f"SKIP: {sys.executable} cannot import {', '.join(missing)} "
          "(install Debian python3-numpy and python3-pytest, as scripts/setup.sh does)")
    sys.exit(77)

import pytest  # noqa: E402

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
