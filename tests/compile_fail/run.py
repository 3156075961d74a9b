#!/usr/bin/env python3
"""Compile-fail harness. A case file marks its misuse with `#ifdef MMSB_COMPILE_FAIL` and states
the diagnostic it must produce on a line `// expect: <text>`. The case must compile *without* the
macro (so the failure is the misuse, not a typo) and fail *with* it, printing <text>.

usage: run.py CASE.cpp -- COMPILER [ARGS...]
"""
import re
import subprocess
import sys


def main() -> int:
    sep = sys.argv.index('--')
    case, compiler = sys.argv[1], sys.argv[sep + 1:]
    text = open(case, encoding='utf-8').read()
    expects = re.findall(r'^// expect: (.+)$', text, re.M)
    if not expects:
        print(f'{case}: no "// expect:" line')
        return 1
    base = compiler + ['-fsyntax-only', case]
    ok = subprocess.run(base, capture_output=True, text=True)
    if ok.returncode != 0:
        print(f'{case}: the control build (without MMSB_COMPILE_FAIL) does not compile:\n{ok.stderr}')
        return 1
    bad = subprocess.run(base + ['-DMMSB_COMPILE_FAIL'], capture_output=True, text=True)
    if bad.returncode == 0:
        print(f'{case}: compiled, but it must not')
        return 1
    missing = [e for e in expects if e not in bad.stderr]
    if missing:
        print(f'{case}: failed to compile, but without the expected diagnostic(s) {missing}:\n{bad.stderr[:4000]}')
        return 1
    print(f'{case}: refused as expected: {expects}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
