#!/usr/bin/env python3
"""03_compiler_ir on all of Lua 5.4's LLVM IR (the set-up's lua-5.4-ir): the unedited program's
live-in sets equal an independent reader and solver's (tests/examples/ll_liveness.py) on every
block; every function read, the live-in sets checked against the worklist solver after every edit
batch, one --dump-live-in line per block, and two runs with one seed give the same state hash and
the same dump.

Skips (exit 77) when the IR is not prepared (scripts/setup.sh prepares it; CI requires this test).

usage: compiler_ir_lua.py EXAMPLE_BINARY
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile


def main():
    binary = sys.argv[1]
    deps = os.environ.get('MMSB_DEPS_DIR') or os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'mmsb')
    ir = pathlib.Path(os.environ.get('MMSB_LUA_IR') or os.path.join(deps, 'lua-5.4-ir'))
    if not (ir / '.mmsb-complete').exists():
        print(f'SKIP: no Lua LLVM IR at {ir} (scripts/setup.sh prepares it)')
        return 77
    outs = []
    with tempfile.TemporaryDirectory() as tmp:
        unedited = pathlib.Path(tmp) / 'unedited.tsv'
        p = subprocess.run([binary, '--ll', str(ir), '--edits', '0', '--dump-live-in', str(unedited)], capture_output=True, text=True,
                           timeout=600)
        want = subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name('ll_liveness.py')), str(ir)], capture_output=True,
                              text=True, timeout=600)
        if p.returncode != 0 or want.returncode != 0:
            print(f'FAIL: unedited run exit {p.returncode} ({p.stderr.strip()}), reference exit {want.returncode} ({want.stderr.strip()[-300:]})')
            return 1
        got_lines, want_lines = unedited.read_text().splitlines(), want.stdout.splitlines()
        if got_lines != want_lines:
            diff = next((f'{g!r} != {w!r}' for g, w in zip(got_lines, want_lines) if g != w), f'{len(got_lines)} != {len(want_lines)} lines')
            print(f'FAIL: live-in sets differ from the independent reference: {diff}')
            return 1
        print(f'unedited Lua: {len(got_lines)} blocks, live-in sets equal the independent reference (ll_liveness.py)')
        for run in (1, 2):
            dump = pathlib.Path(tmp) / f'live_in{run}.tsv'
            p = subprocess.run([binary, '--ll', str(ir), '--edits', '30', '--batch', '4', '--seed', '5', '--dump-live-in', str(dump)],
                               capture_output=True, text=True, timeout=600)
            sys.stdout.write(p.stdout if run == 1 else '')
            if p.returncode != 0:
                print(f'FAIL: run {run} exit {p.returncode}: {p.stderr.strip()}')
                return 1
            m = re.search(r'(\d+) functions, (\d+) blocks', p.stdout)
            blocks = int(m.group(2)) if m else -1
            lines = dump.read_text().splitlines()
            if int(m.group(1)) < 1000 or len(lines) != blocks or 'exact after every edit batch' not in p.stdout:
                print(f'FAIL: run {run}: {m and m.group(0)}, {len(lines)} dump lines')
                return 1
            if not any(l.startswith('luaV_execute\t') for l in lines):
                print('FAIL: luaV_execute is not in the dump')
                return 1
            outs.append((re.search(r'state hash\s+(\w+)', p.stdout).group(1), dump.read_bytes()))
    if outs[0] != outs[1]:
        print('FAIL: two runs with one seed differ (state hash or dump)')
        return 1
    print('compiler_ir_lua: the reference agrees; all of Lua checked after every edit batch; two runs identical')
    return 0


if __name__ == '__main__':
    sys.exit(main())
