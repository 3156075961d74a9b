#!/usr/bin/env python3
"""Doxygen INPUT_FILTER: MMSB's headers carry their contracts as plain `//` comments (STYLE.md);
this turns them into doxygen comments on the fly, so the comments we write are the reference:
  - the header's top comment block becomes the file's documentation (@file);
  - a `//` block directly above a declaration (no blank line between) documents it;
  - a trailing `// ...` after a member or enumerator documents that member (`///<`).
A C header (.h) gets the same treatment for its /* */ comments. Other comments (section rules, notes above #include, comments inside function bodies, which
doxygen ignores) pass through unchanged. The filter never changes line numbers."""
import re
import sys

TRAILING = re.compile(r'^(?P<code>[^"\']*?[;,{])(?P<sp>\s+)//(?!/)\s?(?P<text>.*)$')


def is_comment(line):
    s = line.lstrip()
    return s.startswith('//') and not s.startswith('///')


def filter_lines(lines, path):
    out = list(lines)
    n = len(lines)
    i = 0
    # The top block: comments before the first code line document the file (@file takes the
    # path as its argument; the block's text follows it on the same line).
    while i < n and lines[i].strip() == '':
        i += 1
    if i < n and is_comment(lines[i]):
        j = i
        while j < n and is_comment(lines[j]):
            out[j] = re.sub(r'^(\s*)//', r'\1///', lines[j], count=1)
            j += 1
        out[i] = re.sub(r'^(\s*)///', r'\1/// @file ' + path.replace('\\', '/') + ' ', out[i], count=1)
        i = j
    while i < n:
        if is_comment(lines[i]):
            j = i
            while j < n and is_comment(lines[j]):
                j += 1
            nxt = lines[j].strip() if j < n else ''
            if nxt and not nxt.startswith(('#include', '#pragma', '#if', '#endif', '#else', '#elif', '}', '//')):
                for k in range(i, j):
                    out[k] = re.sub(r'^(\s*)//', r'\1///', lines[k], count=1)
            i = j
            continue
        m = TRAILING.match(lines[i])
        if m and not lines[i].lstrip().startswith(('return', 'if', 'for', 'while')):
            out[i] = m.group('code') + m.group('sp') + '///< ' + m.group('text')
        i += 1
    return out


# Code then a one-line /* text */: a macro, a line ending in ; , or {, or an enumerator (the last
# one has no comma).
BLOCK_TRAILING = re.compile(r'^(?P<code>(?:#define\s+\S+.*?|[^"\']*?[;,{]|\s*[A-Z][A-Z0-9_]*(?:\s*=\s*[-\w]+)?))'
                            r'(?P<sp>\s+)/\*(?!\*)(?P<text>.*)\*/\s*$')
NOT_DECLARATION = ('#include', '#pragma', '#if', '#endif', '#else', '#elif', '}', '//', '/*')


def filter_c_lines(lines, path):
    """The same for a C header's /* */ comments (mmsb/c/mmsb.h): the top block documents the
    file, a block directly above a declaration documents it, and a trailing /* text */ documents
    its member, enumerator or macro."""
    out = list(lines)
    n = len(lines)
    i = 0
    first = True
    while i < n:
        s = lines[i].lstrip()
        if s.startswith('/*') and not s.startswith('/**'):
            j = i
            while j < n and '*/' not in lines[j]:
                j += 1
            nxt = lines[j + 1].strip() if j + 1 < n else ''
            if first:
                out[i] = lines[i].replace('/*', '/** @file ' + path + ' ', 1)
            elif nxt and not nxt.startswith(NOT_DECLARATION):
                out[i] = lines[i].replace('/*', '/**', 1)
            first = False
            i = j + 1
            continue
        if s:
            first = False
        m = BLOCK_TRAILING.match(lines[i])
        if m:
            out[i] = m.group('code') + m.group('sp') + '/**<' + m.group('text') + '*/'
        i += 1
    return out


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        text = f.read()
    lines = text.split('\n')
    name = sys.argv[1].replace('\\', '/')
    name = name[name.rindex('include/') + len('include/'):] if 'include/' in name else name
    run = filter_c_lines if name.endswith('.h') else filter_lines
    sys.stdout.write('\n'.join(run(lines, name)))


if __name__ == '__main__':
    main()
