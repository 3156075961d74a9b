#!/usr/bin/env python3
"""Checks that includes between layers point only downward (docs/README.md, docs/decisions.md).

usage: layers.py INCLUDE_DIR
"""
import pathlib
import re
import sys

# layer: the layers it may include (itself always allowed).
ALLOWED = {
    'config': set(),
    'core': {'config'},
    'semiring': {'config', 'core'},
    'page': {'config', 'core'},
    'memory': {'config', 'core', 'page'},
    'delta': {'config', 'core', 'semiring', 'page'},
    'log': {'config', 'core', 'semiring', 'page', 'memory', 'delta'},
    'graph': {'config', 'core', 'semiring', 'page', 'memory', 'delta'},
    'exec': {'config', 'core', 'semiring', 'page', 'memory', 'delta', 'log', 'graph'},
    'bus': {'config', 'core', 'semiring', 'page', 'memory', 'delta', 'log', 'graph', 'exec'},
    'obs': {'config', 'core', 'semiring', 'page', 'memory', 'delta', 'log', 'graph', 'exec', 'bus'},
    'dist': {'config', 'core', 'semiring', 'page', 'memory', 'delta', 'log', 'graph', 'exec', 'bus'},
}

root = pathlib.Path(sys.argv[1]) / 'mmsb'
bad = []
for header in sorted(root.rglob('*.hpp')):
    rel = header.relative_to(root)
    if len(rel.parts) < 2:
        continue  # umbrellas (mmsb.hpp, <layer>.hpp, fmt.hpp, cuda.hpp) may include anything
    layer = rel.parts[0]
    if layer not in ALLOWED:
        bad.append(f'{rel}: unknown layer {layer!r} (add it to tests/layers.py)')
        continue
    for n, line in enumerate(header.read_text(encoding='utf-8').splitlines(), 1):
        m = re.match(r'\s*#\s*include\s*<mmsb/([a-z_]+)/', line)
        if m and m.group(1) != layer and m.group(1) not in ALLOWED[layer]:
            bad.append(f'{rel}:{n}: {layer}/ must not include {m.group(1)}/ (an upward arrow)')
for b in bad:
    print(b)
print(f'{len(bad)} upward includes' if bad else 'all includes point downward')
sys.exit(1 if bad else 0)
