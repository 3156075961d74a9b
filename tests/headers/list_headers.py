#!/usr/bin/env python3
"""Prints every public header under INCLUDE_DIR (relative, e.g. mmsb/core/ids.hpp), one a line."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
for p in sorted(root.rglob('*.hpp')):
    print(p.relative_to(root).as_posix())
