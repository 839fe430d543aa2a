#!/usr/bin/env python3
"""call_cycles.py LIB.a: fail when the object files of a static library call
each other in a loop.

File A calls file B when A's object needs a symbol that B's defines (nm: U
in A, T/D/B/R in B). The compiler's files form a pipeline (DESIGN.md:
spec -> lower -> autodiff -> passes -> emit), so this graph must have no
cycle: two lowerings that call each other (lower.c and lower_s2s.c did, until
the shared cell lowering moved to lower_cell.c) are one module in two files.
Prints each cycle's files with the symbols that tie them, exit 1; exit 0
when there is none.
"""
import subprocess
import sys


def members(lib):
    """{object name: (defined symbols, undefined symbols)} from nm -A."""
    out = subprocess.run(["nm", "-A", lib], capture_output=True, text=True, check=True).stdout
    objs = {}
    for line in out.splitlines():
        where, _, rest = line.partition(": ") if ": " in line else line.rpartition(":")
        parts = rest.split()
        obj = where.rsplit(":", 1)[-1]
        defs, undefs = objs.setdefault(obj, (set(), set()))
        if len(parts) == 2 and parts[0] == "U":
            undefs.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defs.add(parts[2])
    return objs


def cycles(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: call_cycles.py LIB.a", file=sys.stderr)
        return 2
    objs = members(sys.argv[1])
    owner = {}
    for obj in sorted(objs):
        for s in objs[obj][0]:
            owner.setdefault(s, obj)
    ties = {a: {} for a in objs}
    for a, (_, undefs) in objs.items():
        for s in undefs:
            b = owner.get(s)
            if b and b != a:
                ties[a].setdefault(b, set()).add(s)
    found = cycles({a: set(ties[a]) for a in ties})
    for comp in found:
        print("cycle: " + ", ".join(comp))
        for a in comp:
            for b in comp:
                if b in ties[a]:
                    print("  %s -> %s: %s" % (a, b, ", ".join(sorted(ties[a][b]))))
    if found:
        return 1
    print("no call cycle among %d object files" % len(objs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
