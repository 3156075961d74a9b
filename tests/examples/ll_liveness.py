#!/usr/bin/env python3
"""An independent liveness reference for 03_compiler_ir --ll: its own reader of textual LLVM IR
(regular expressions, no code shared with examples/03_compiler_ir/llvm_ir.cpp) and its own
solver (Python sets), written as the example's --dump-live-in writes it:
function<TAB>block<TAB>live-in names (sorted, without %; an unnamed entry block is 'entry').

  LiveOut(B) = U LiveIn(S) over successors S  U  PhiUses(B)
  LiveIn(B)  = Uses(B) U (LiveOut(B) - Defs(B))

usage: ll_liveness.py FILE.ll|DIR > expected.tsv
"""
import pathlib
import re
import sys

NAME = r'[-a-zA-Z$._0-9]+'
LOCAL = re.compile(r'%(' + NAME + r')')
LABEL = re.compile(r'^(' + NAME + r'):')
TERMINATORS = ('ret', 'br', 'switch', 'indirectbr', 'unreachable', 'resume')


def strip_comment(line):
    out, quoted = [], False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ';' and not quoted:
            break
        out.append(c)
    return ''.join(out).rstrip()


def functions(text):
    lines = text.split('\n')
    types = {m.group(1) for m in re.finditer(r'^%(' + NAME + r') = type', text, re.M)}
    i = 0
    while i < len(lines):
        if not lines[i].startswith('define '):
            i += 1
            continue
        head = strip_comment(lines[i])
        name = re.search(r'@(' + NAME + r')\(', head).group(1)
        params = head[head.index('(', head.index('@')) + 1:head.rindex(')')]
        args = [a for a in re.findall(r'%(' + NAME + r')(?=\s*(?:,|$))', params) if a not in types]
        entry_number = str(sum(1 for a in args if a.isdigit()))
        blocks, cur = [], None  # (name, [instruction text])
        i += 1
        while strip_comment(lines[i]) != '}':
            line = strip_comment(lines[i])
            i += 1
            if not line.strip():
                continue
            m = LABEL.match(line)
            if m:
                cur = (m.group(1), [])
                blocks.append(cur)
                continue
            if cur is None:
                cur = ('entry', [])
                blocks.append(cur)
            inst = line.strip()
            while inst.count('[') > inst.count(']'):  # a switch's cases span lines
                inst += ' ' + strip_comment(lines[i]).strip()
                i += 1
            cur[1].append(inst)
        i += 1
        yield name, args, entry_number, blocks, types


def live_in(name, args, entry_number, blocks, types):
    label_of = {b: b for b, _ in blocks}
    label_of[entry_number] = 'entry'
    values = set(args)
    for _, code in blocks:
        for inst in code:
            m = re.match(r'%(' + NAME + r') = ', inst)
            if m:
                values.add(m.group(1))
    uses, defs, phi_uses, succ = {}, {}, {b: set() for b, _ in blocks}, {}
    for b, code in blocks:
        u, d = set(), set()
        for inst in code:
            m = re.match(r'%(' + NAME + r') = (.*)$', inst)
            body = m.group(2) if m else inst
            if body.startswith('phi '):
                for value, pred in re.findall(r'\[\s*([^\[\]]*?),\s*%(' + NAME + r')\s*\]', body):
                    for v in LOCAL.findall(value):
                        if v in values:
                            phi_uses[label_of[pred]].add(v)
            else:
                for v in LOCAL.findall(body):
                    if v in values and v not in d:
                        u.add(v)
            if m:
                d.add(m.group(1))
        last = code[-1]
        succ[b] = [label_of[s] for s in re.findall(r'label %(' + NAME + r')', last)]
        assert last.split()[0] in TERMINATORS, f'{name}: block {b} ends with {last!r}'
        uses[b], defs[b] = u, d
    lin = {b: set() for b, _ in blocks}
    changed = True
    while changed:
        changed = False
        for b, _ in reversed(blocks):
            out = set(phi_uses[b])
            for s in succ[b]:
                out |= lin[s]
            new = uses[b] | (out - defs[b])
            if new != lin[b]:
                lin[b], changed = new, True
    return [(b, sorted(lin[b])) for b, _ in blocks]


def main():
    path = pathlib.Path(sys.argv[1])
    files = sorted(path.glob('*.ll')) if path.is_dir() else [path]
    out = []
    for f in files:
        for fn in functions(f.read_text()):
            for b, names in live_in(*fn):
                out.append(f'{fn[0]}\t{b}\t{" ".join(names)}\n')
    sys.stdout.write(''.join(out))


if __name__ == '__main__':
    main()
