#!/usr/bin/env python3
"""Reads meson's testlog.json files and prints 'N passed, N failed, N skipped'."""
import json
import sys

PASS = {'OK', 'EXPECTEDFAIL'}
SKIP = {'SKIP'}
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        f = open(path, encoding='utf-8')
    except OSError:
        print(f'{path}: no test log (the build or the test run did not complete)', file=sys.stderr)
        failed += 1
        continue
    with f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line)['result']
            if result in PASS:
                passed += 1
            elif result in SKIP:
                skipped += 1
            else:
                failed += 1
print(f'{passed} passed, {failed} failed, {skipped} skipped')
