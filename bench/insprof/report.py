#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Names the counts of bench/insprof/plugin.c: per window (one row of
bench/insns), the kernel instructions per call and the functions they ran
in; with --lines KO, the module's source lines too (KO: the same module
built with KRUSTFLAGS=-g, the one that ran).

    report.py SYSTEM_MAP CONSOLE_LOG PROFILE [--top N] [--window W] [--lines KO]
              [--annotate NAME]

--annotate NAME (with --lines KO) prints, per window, the disassembly of
each module function whose name contains NAME, every instruction with
how many times it ran per call: where a function's count comes from,
branch by branch.
"""
import argparse
import bisect
import collections
import re
import subprocess

MODULE_START = 0xFFFFFFFFA0000000  # x86-64 modules are mapped from here


def demangle(names):
    out = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True)
    if out.returncode != 0:
        return {}
    # Rust's crate hashes say nothing to a reader.
    plain = (re.sub(r'\[[0-9a-f]{16}\]', '', n) for n in out.stdout.splitlines())
    return dict(zip(names, plain))


def read_windows(console):
    """The windows' names and call counts, and the module's symbols."""
    windows, module = {}, []
    for line in open(console, errors='replace'):
        m = re.search(r'# insprof window (\d+) calls (\d+): (.*)', line)
        if m:
            windows[int(m.group(1))] = (m.group(3).strip(), int(m.group(2)))
        m = re.search(r'# insprof ksym ([0-9a-f]+) [tT] (\S+)', line)
        if m:
            module.append((int(m.group(1), 16), m.group(2) + ' [kevent]'))
    return windows, sorted(module)


def read_counts(profile):
    counts, cur = {}, None
    for line in open(profile):
        if line.startswith('window'):
            cur = counts.setdefault(int(line.split()[1]), {})
        else:
            addr, n = line.split()
            cur[int(addr, 16)] = int(n)
    return counts


def source_lines(ko, module, counts, calls, top):
    """The module's instructions by source line, inlined frames resolved."""
    ko_syms = {f + ' [kevent]': off for f, off in ko_symbols(ko).items()}
    starts = [a for a, _ in module]
    by_ko = {}
    for addr, n in counts.items():
        i = bisect.bisect_right(starts, addr) - 1
        if addr >= MODULE_START and i >= 0 and module[i][1] in ko_syms:
            by_ko[ko_syms[module[i][1]] + addr - module[i][0]] = (n, module[i][1])
    lines = collections.Counter()
    for addr, (n, func) in by_ko.items():
        out = subprocess.run(['addr2line', '-i', '-e', ko, hex(addr)],
                             capture_output=True, text=True).stdout.split()
        ours = [f for f in out if not re.search(r'/rustlib/|/rust/kernel/|^\?', f)]
        # C objects of the module carry no line information: their function.
        where = (ours or out or ['?'])[0].split('/')[-1]
        lines[func if where.startswith('??') else where] += n
    for where, n in lines.most_common(top):
        print(f'    {n / calls:8.1f}  {where}')


def ko_symbols(ko):
    """The module's function symbols in KO, by name: their offsets."""
    out = {}
    for line in subprocess.run(['nm', ko], capture_output=True, text=True).stdout.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in 'tT':
            out[p[2]] = int(p[0], 16)
    return out


def annotate(ko, module, counts, calls, name):
    """The disassembly of the module's functions named like NAME, each
    instruction with its count per call (blank: it did not run)."""
    loaded = {sym[:-len(' [kevent]')]: addr for addr, sym in module}
    offsets = ko_symbols(ko)
    wanted = [f for f in loaded if f in offsets]
    plain = demangle(wanted)
    for func in sorted(f for f in wanted if name in plain.get(f, f)):
        dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', '-r', f'--disassemble={func}', ko],
                             capture_output=True, text=True).stdout
        insns, relocs = [], {}
        for line in dis.splitlines():
            m = re.match(r'\s+([0-9a-f]+):\s+(R_[A-Z0-9_]+)\s+(\S+)', line)
            if m:
                relocs[int(m.group(1), 16)] = m.group(3)
                continue
            m = re.match(r'\s+([0-9a-f]+):\s+(.*)', line)
            if m:
                insns.append((int(m.group(1), 16), re.sub(r'<_R\w+', '<', m.group(2))))
        targets = {r: re.sub(r'-0x4$', '', t) for r, t in relocs.items()}
        names = demangle(sorted(set(targets.values())))
        print(f'  {plain.get(func, func)}:')
        ran = 0.0
        for i, (off, text) in enumerate(insns):
            # What a call or a load refers to: the relocation inside it.
            end = insns[i + 1][0] if i + 1 < len(insns) else off + 16
            target = next((t for r, t in targets.items() if off <= r < end), None)
            if target:
                text += f'  -> {names.get(target, target)}'
            n = counts.get(loaded[func] + off - offsets[func], 0) / calls
            ran += n
            print(f'    {n:6.2f}  {off:5x}  {text}' if n else f'            {off:5x}  {text}')
        print(f'    {ran:6.1f}  in all')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('system_map')
    ap.add_argument('console')
    ap.add_argument('profile')
    ap.add_argument('--top', type=int, default=12)
    ap.add_argument('--window', type=int)
    ap.add_argument('--lines')
    ap.add_argument('--annotate')
    a = ap.parse_args()
    if a.annotate and not a.lines:
        ap.error('--annotate needs --lines KO (the module that ran, built with -g)')
    windows, module = read_windows(a.console)
    syms = [(int(p[0], 16), p[2]) for p in (l.split() for l in open(a.system_map))
            if p[1] in 'tTwW']
    syms = sorted(syms + module + [(1, '(table full)')])
    starts = [s for s, _ in syms]
    counts = read_counts(a.profile)
    for w, (name, calls) in sorted(windows.items()):
        if w not in counts or (a.window and w != a.window):
            continue
        funcs = collections.Counter()
        for addr, n in counts[w].items():
            funcs[syms[bisect.bisect_right(starts, addr) - 1][1]] += n
        print(f'{name}: {sum(funcs.values()) / calls:.0f} kernel instructions per call')
        shown = funcs.most_common(a.top)
        names = demangle([f for f, _ in shown])
        for f, n in shown:
            print(f'    {n / calls:8.1f}  {names.get(f, f)}')
        if a.lines:
            print('  by source line (module):')
            source_lines(a.lines, module, counts[w], calls, a.top)
        if a.annotate:
            annotate(a.lines, module, counts[w], calls, a.annotate)


if __name__ == '__main__':
    main()
