#!/usr/bin/env python3
"""The folders of include/k8snetio/ form layers: no folder may reach itself through includes.

Reads every header's #include lines (quoted relative paths and <k8snetio/...>), draws an edge
from a header's folder to each folder it includes (a file at the top, such as version.hpp, is a
node of its own), and fails naming the files of every edge of a cycle. A forwarding header kept
for an old include path is an edge like any other, so it may only point down.

    check_include_graph.py [INCLUDE_ROOT]   (default: include/k8snetio beside this script)
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]', re.M)


def node_of(relative):
    return relative.split("/", 1)[0] if "/" in relative else relative


def edges_of(root):
    edges = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith((".hpp", ".h")):
                continue
            path = os.path.join(folder, name)
            here = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for kind, target in INCLUDE.findall(text):
                if target.startswith("k8snetio/"):
                    there = target[len("k8snetio/"):]
                elif kind == '"':
                    there = os.path.normpath(os.path.join(os.path.dirname(here), target))
                else:
                    continue  # a system or third-party header
                if not os.path.exists(os.path.join(root, there)):
                    continue
                a, b = node_of(here), node_of(there)
                if a != b:
                    edges.setdefault(a, {}).setdefault(b, []).append(f"{here} -> {there}")
    return edges


def cycles(edges):
    """Every strongly connected component of more than one node (Tarjan)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    nodes = set(edges) | {b for targets in edges.values() for b in targets}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "include", "k8snetio")
    edges = edges_of(root)
    found = cycles(edges)
    if not found:
        layers = ", ".join(f"{a} -> {sorted(b)}" for a, b in sorted(edges.items()))
        print(f"no folder cycle in {os.path.normpath(root)}: {layers}")
        return 0
    for component in found:
        print(f"folder cycle between {', '.join(component)}:", file=sys.stderr)
        for a in component:
            for b, files in sorted(edges.get(a, {}).items()):
                if b in component:
                    for f in files:
                        print(f"  {f}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
