#!/usr/bin/env python3
"""Runs a table of bad command lines against every example: each must exit 2 with a message naming
the option (and the value, where one was given) and the usage line, never a signal, an abort or a
hang. Then a few good command lines (boundaries, the --name=value form, --help) must still work.

usage: bad_options.py EXAMPLE_BINARY...   (matched by file name: 00_hello_bus, ..., 05_finance)
"""
import os
import pathlib
import subprocess
import sys
import tempfile

# program: [(args, the option the message must name, the value it must quote or None)]
BAD = {
    '00_hello_bus': [
        (['--pages', '-1'], '--pages', '-1'),
        (['--pages', '0'], '--pages', '0'),
        (['--pages', 'abc'], '--pages', 'abc'),
        (['--pages', '1e3'], '--pages', '1e3'),
        (['--pages', ' 5'], '--pages', ' 5'),
        (['--pages', '4294967297'], '--pages', '4294967297'),
        (['--changes', '99999999999'], '--changes', '99999999999'),
        (['--producers', '0'], '--producers', '0'),
        (['--producers', '65'], '--producers', '65'),
        (['--seed', '-1'], '--seed', '-1'),
        (['--seed', '18446744073709551616'], '--seed', '18446744073709551616'),
        (['--changes='], '--changes', None),
        (['--pages'], '--pages', None),
        (['--pages', '--seed', '3'], '--pages', None),
        (['--bogus', '1'], '--bogus', None),
        (['stray'], 'stray', None),
    ],
    '01_schedulers': [
        (['--sensors', '0'], '--sensors', '0'),
        (['--sensors', '70000'], '--sensors', '70000'),
        (['--ticks', '-3'], '--ticks', '-3'),
        (['--ticks', 'ten'], '--ticks', 'ten'),
        (['--producers', '1000'], '--producers', '1000'),
        (['--per-tick', '20000'], '--per-tick', '20000'),  # past a ring: used to hang
        (['--per-tick', '2147483648'], '--per-tick', '2147483648'),
        (['--per-tick'], '--per-tick', None),
        (['--seed', '1'], '--seed', None),  # 01 has no --seed
    ],
    '02_custom_semiring': [
        (['--data-pages', '0'], '--data-pages', '0'),
        (['--data-pages', '-8'], '--data-pages', '-8'),
        (['--ticks', 'x'], '--ticks', 'x'),
        (['--ticks', '0'], '--ticks', '0'),
        (['--producers', '-2'], '--producers', '-2'),
        (['--seed', '1.5'], '--seed', '1.5'),
        (['--ticks'], '--ticks', None),
        (['--data_pages', '4'], '--data_pages', None),
    ],
    '03_compiler_ir': [
        (['--functions', '0'], '--functions', '0'),
        (['--blocks', '3'], '--blocks', '3'),
        (['--edits', '1000001'], '--edits', '1000001'),
        (['--batch', '1001'], '--batch', '1001'),
        (['--batch', '-1'], '--batch', '-1'),
        (['--functions', '100000', '--blocks', '10000'], '--blocks', '10000'),  # a billion blocks
        (['--seed', 'abc'], '--seed', 'abc'),
        (['--edits'], '--edits', None),
    ],
    '04_game_ai': [
        (['--size', '40'], '--size', '40'),
        (['--size', '8'], '--size', '8'),
        (['--size', '1024'], '--size', '1024'),
        (['--agents', '0'], '--agents', '0'),
        (['--agents', '-5'], '--agents', '-5'),
        (['--threads', '65'], '--threads', '65'),
        (['--ticks', '0'], '--ticks', '0'),
        (['--budget-ms', '-1'], '--budget-ms', '-1'),
        (['--budget-ms', 'nan'], '--budget-ms', 'nan'),
        (['--budget-ms', 'inf'], '--budget-ms', 'inf'),
        (['--budget-ms', '1e9'], '--budget-ms', '1e9'),
        (['--budget-ms', '2ms'], '--budget-ms', '2ms'),
        (['--map', ''], '--map', ''),
        (['--map', '/nonexistent-mmsb-dir/map.ppm'], '--map', '/nonexistent-mmsb-dir/map.ppm'),
        (['--no-pace=1'], '--no-pace', None),
        (['--map'], '--map', None),
    ],
    '05_finance': [
        (['--updates', '-5'], '--updates', '-5'),  # issue 24: aborted with exit 134
        (['--updates', '0'], '--updates', '0'),
        (['--updates', '4294967296'], '--updates', '4294967296'),
        (['--instruments', '0'], '--instruments', '0'),
        (['--instruments', '-1'], '--instruments', '-1'),
        (['--positions', '4294967296'], '--positions', '4294967296'),
        (['--portfolios', '2000'], '--portfolios', '2000'),
        (['--feeds', '65'], '--feeds', '65'),
        (['--instruments', '1', '--feeds', '2'], '--feeds', '2'),  # a feed with no instrument
        (['--scenarios', '256'], '--scenarios', '256'),
        (['--audits', '-1'], '--audits', '-1'),
        (['--ticks', '1.0'], '--ticks', '1.0'),
        (['--ticks'], '--ticks', None),
        (['--tick', '5'], '--tick', None),
    ],
}

# program: [args] that must exit 0 (small, quick; boundaries and the --name=value form).
GOOD = {
    '00_hello_bus': [['--pages=4', '--changes', '1000', '--producers', '64', '--seed', '18446744073709551615']],
    '01_schedulers': [['--sensors', '4', '--ticks', '1', '--producers', '1', '--per-tick', '16384']],
    '02_custom_semiring': [['--data-pages', '1', '--ticks', '1', '--producers', '1', '--seed', '0']],
    '03_compiler_ir': [['--functions', '2', '--blocks', '4', '--edits', '2', '--batch', '1']],
    '04_game_ai': [['--size', '16', '--agents', '10', '--ticks', '2', '--threads', '1', '--no-pace',
                    '--budget-ms=0', '--map', 'map.ppm']],
    '05_finance': [['--instruments', '1', '--feeds', '1', '--ticks', '2', '--updates', '1', '--audits', '0'],
                   ['--instruments', '50', '--ticks', '3', '--updates', '5', '--scenarios', '255']],
}

TIMEOUT = 60  # seconds per run; a hang is a failure, not a stuck test


def run(binary, args, cwd):
    env = dict(os.environ, OMP_PROC_BIND='false', OMP_NUM_THREADS='2')
    try:
        p = subprocess.run([binary] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors='replace', timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, '', f'timed out after {TIMEOUT} s'
    return p.returncode, p.stdout, p.stderr


def main():
    binaries = {pathlib.Path(b).name: str(pathlib.Path(b).resolve()) for b in sys.argv[1:]}
    missing = sorted(set(BAD) - set(binaries))
    if missing:
        print('bad_options.py: no binary given for ' + ', '.join(missing))
        return 2
    failures, runs = [], 0
    with tempfile.TemporaryDirectory() as cwd:  # 04 writes its map into the working directory
        for name, cases in BAD.items():
            for args, option, value in cases:
                runs += 1
                rc, out, err = run(binaries[name], args, cwd)
                what = f'{name} {" ".join(repr(a) if a == "" or " " in a else a for a in args)}'
                problems = []
                if rc is None:
                    problems.append(err)
                elif rc < 0:
                    problems.append(f'killed by signal {-rc}')
                elif rc != 2:
                    problems.append(f'exit code {rc}, expected 2')
                if rc is not None:
                    first = err.splitlines()[0] if err else ''
                    if option not in first:
                        problems.append(f'the message does not name {option}')
                    if value is not None and f"'{value}'" not in first:
                        problems.append(f"the message does not quote the value '{value}'")
                    if 'usage: ' + name not in err:
                        problems.append('no usage line')
                    if 'terminate called' in err or 'core dumped' in err.lower():
                        problems.append('aborted')
                    if out:
                        problems.append('wrote to stdout before refusing')
                if problems:
                    failures.append(f'{what}: ' + '; '.join(problems) + f'\n    stderr: {err.strip()[:400]}')
                else:
                    print(f'ok   {what}: {err.splitlines()[0]}')
        for name, cases in GOOD.items():
            for args in cases + [['--help']]:
                runs += 1
                rc, out, err = run(binaries[name], args, cwd)
                what = f'{name} {" ".join(args)}'
                if rc != 0:
                    failures.append(f'{what}: exit code {rc}, expected 0\n    stderr: {err.strip()[:400]}')
                elif args == ['--help'] and 'usage: ' + name not in out:
                    failures.append(f'{what}: no usage line on stdout')
                else:
                    print(f'ok   {what}')
    for f in failures:
        print('FAIL ' + f)
    print(f'{runs - len(failures)} of {runs} command lines behaved')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
