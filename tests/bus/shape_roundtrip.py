#!/usr/bin/env python3
"""A store written by a GCC build opens in a Clang build, and the other way round (issue 17).

Builds tests/bus/shape_roundtrip.cpp with clang++-16, runs the GCC build (built by meson) to
write a store and the Clang build to read it, then the reverse, and compares the state lines
(epoch, state hash, shape) of all four runs. Then checks a store of another shape is refused
with both shapes and the path in the message. Exits 77 (meson's "skipped") only when clang++-16
is absent (scripts/setup.sh installs it; $MMSB_CLANG overrides the compiler).

usage: shape_roundtrip.py GCC_BUILD SOURCE -- COMPILE_AND_LINK_ARGS...
"""
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main() -> int:
    sep = sys.argv.index('--')
    gcc_build, source = sys.argv[1], sys.argv[2]
    extra = sys.argv[sep + 1:]
    clang = os.environ.get('MMSB_CLANG') or shutil.which('clang++-16')
    if not clang:
        print('SKIP: clang++-16 not found (scripts/setup.sh installs the clang-16 package; '
              'or set MMSB_CLANG to a clang++ of version 16 or later)')
        return 77
    tmp = tempfile.mkdtemp(prefix='mmsb-shape-')
    try:
        clang_build = os.path.join(tmp, 'shape_roundtrip_clang')
        # The sources first, then the libraries (static archives must follow their users).
        cmd = [clang, '-std=c++20', '-O1', source, '-o', clang_build] + extra
        rc, out = run(cmd)
        if rc != 0:
            print('FAIL: the clang build does not compile:\n$ ' + ' '.join(cmd) + '\n' + out[-6000:])
            return 1
        print(f'built {clang_build} with {clang}')

        lines = {}
        for writer, reader, name in ((gcc_build, clang_build, 'gcc-to-clang'), (clang_build, gcc_build, 'clang-to-gcc')):
            d = os.path.join(tmp, name)
            for role, exe in (('write', writer), ('read', reader)):
                rc, out = run([exe, role, d])
                print(f'$ {os.path.basename(exe)} {role} {name}\n' + ''.join('    ' + l + '\n' for l in out.splitlines()))
                if rc != 0:
                    print(f'FAIL: {role} by {exe} exited {rc}')
                    return 1
                lines[(name, role)] = out.strip().splitlines()
        first = lines[('gcc-to-clang', 'write')]
        if len(first) != 2 or not all(' hash ' in l and ' shape mmsb-shape/1 ' in l for l in first):
            print(f'FAIL: unexpected state lines {first}')
            return 1
        for key, got in lines.items():
            if got != first:
                print(f'FAIL: {key} printed {got}, the GCC writer printed {first}')
                return 1
        print('all four runs agree on epoch, state hash and shape')

        for exe in (gcc_build, clang_build):
            rc, out = run([exe, 'foreign', os.path.join(tmp, 'gcc-to-clang')])
            want = ['written for a different bus', 'semiring=plus_times<i64>', 'semiring=plus_times<i32>',
                    os.path.join(tmp, 'gcc-to-clang', 'a')]
            missing = [w for w in want if w not in out]
            if rc != 0 or missing:
                print(f'FAIL: {exe} foreign exited {rc}, message lacks {missing}:\n{out}')
                return 1
        print('a store of another shape is refused by both builds, naming both shapes and the path:\n    ' + out.strip())
        print('PASS')
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
