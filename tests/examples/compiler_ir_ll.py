#!/usr/bin/env python3
"""03_compiler_ir --ll: real LLVM IR.

1. tests/examples/ll/sample.ll, unedited: --dump-live-in equals sample.live_in, worked out by hand
   (phis in a loop header, a multi-line switch, named types, an unnamed entry block).
2. The same module through 200 edit batches: the example checks every live bit against its
   worklist solver after each batch and exits 0.
3. Malformed IR: exit 1 and one stderr line naming the file, the line and the construct.
4. Every prefix of sample.ll (cut at each line): exit 0 or 1 with a message, never a crash.

usage: compiler_ir_ll.py EXAMPLE_BINARY SOURCE_DIR
"""
import pathlib
import subprocess
import sys
import tempfile

BAD = [  # (name, .ll text, line the message must name, words it must contain)
    ('no_terminator', 'define void @f() {\n  %1 = add i32 1, 2\n}\n', 2, 'block entry of @f has no terminator'),
    ('unknown_label', 'define void @f() {\n  br label %nowhere\n}\n', 2, '%nowhere is neither a value, a block nor a type of @f'),
    ('invoke', 'define void @f() {\n  invoke void @g() to label %1 unwind label %1\n}\n', 2, "'invoke' (exception handling) is not supported"),
    ('no_brace', 'define void @f() {\n  ret void\n', 1, "has no closing '}'"),
    ('twice', 'define i32 @f(i32 %x) {\n  %x = add i32 1, 2\n  ret i32 %x\n}\n', 2, '%x is defined twice'),
    ('after_terminator', 'define void @f() {\n  ret void\n  ret void\n}\n', 3, 'instruction after the terminator of block entry'),
    ('phi_not_pred', 'define i32 @f(i32 %x) {\nentry:\n  br label %b\nb:\n  br label %c\nc:\n  %p = phi i32 [ %x, %entry ]\n  ret i32 %p\n}\n',
     7, 'names %entry, which is not a predecessor'),
    ('quoted', 'define void @f() {\n  %"a b" = add i32 1, 2\n  ret void\n}\n', 2, 'quoted'),
    ('garbage_label', 'define void @f() {\nthis is not ir\n  ret void\n}\n', 2, 'expected a block label or an indented instruction'),
]


def run(binary, args):
    return subprocess.run([binary] + args, capture_output=True, text=True, errors='replace', timeout=120)


def main():
    binary, src = sys.argv[1], pathlib.Path(sys.argv[2])
    sample = src / 'tests' / 'examples' / 'll' / 'sample.ll'
    expected = (src / 'tests' / 'examples' / 'll' / 'sample.live_in').read_text()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        dump = tmp / 'live_in.tsv'
        p = run(binary, ['--ll', str(sample), '--edits', '0', '--dump-live-in', str(dump)])
        if p.returncode != 0:
            failures.append(f'sample.ll: exit {p.returncode}: {p.stderr.strip()}')
        elif dump.read_text() != expected:
            failures.append(f'sample.ll: live-in sets differ from sample.live_in:\n{dump.read_text()}')

        p = run(binary, ['--ll', str(sample), '--edits', '200', '--batch', '3', '--seed', '9'])
        if p.returncode != 0 or 'exact after every edit batch' not in p.stdout:
            failures.append(f'sample.ll with edits: exit {p.returncode}: {p.stdout[-400:]} {p.stderr.strip()}')

        for name, text, line, words in BAD:
            f = tmp / f'{name}.ll'
            f.write_text(text)
            p = run(binary, ['--ll', str(f)])
            if p.returncode != 1 or f'{f}:{line}:' not in p.stderr or words not in p.stderr or p.stderr.count('\n') != 1:
                failures.append(f'{name}: want exit 1 and "{f}:{line}: ...{words}", got exit {p.returncode}: {p.stderr.strip()!r}')

        empty = tmp / 'empty'
        empty.mkdir()
        for args, words in [(['--ll', str(empty)], 'a directory with no .ll files'),
                            (['--ll', str(tmp / 'missing.ll')], 'neither a .ll file nor a directory'),
                            (['--ll', str(sample), '--dump-live-in', str(tmp / 'no' / 'such' / 'dir')], 'cannot open for writing')]:
            p = run(binary, args)
            if p.returncode != 1 or words not in p.stderr:
                failures.append(f'{args}: want exit 1 and "{words}", got exit {p.returncode}: {p.stderr.strip()!r}')
        p = run(binary, ['--ll', str(sample), '--functions', '3'])
        if p.returncode != 2 or '--functions' not in p.stderr:
            failures.append(f'--ll with --functions: want exit 2 naming --functions, got {p.returncode}: {p.stderr.strip()!r}')

        lines = sample.read_text().splitlines(keepends=True)
        for n in range(len(lines) + 1):
            cut = tmp / 'cut.ll'
            cut.write_text(''.join(lines[:n]))
            p = run(binary, ['--ll', str(cut), '--edits', '2'])
            if p.returncode not in (0, 1) or (p.returncode == 1 and not p.stderr.strip()):
                failures.append(f'sample.ll cut after {n} lines: exit {p.returncode}, stderr {p.stderr.strip()!r}')
    for f in failures:
        print('FAIL', f)
    print(f'compiler_ir_ll: {len(BAD) + 6 + len(lines) + 1} runs, {len(failures)} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
