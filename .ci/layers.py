#!/usr/bin/env python3
"""The layer rule: a module under src/<layer>/ uses only its own layer and the layers below it.

    input -> format -> crypto -> decode -> replay -> analyses -> render -> cli

error, progress and pb (generated protobuf) are used by every layer. Prints each `crate::`
path that points up or sideways into a higher layer, with file and line; exits 1 if any.
"""
import os, re, sys

ORDER = ["input", "format", "crypto", "decode", "replay", "analyses", "render", "cli"]
BASE = {"error", "progress", "pb"}
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
bad = []
for dp, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.join(dp, f)
        rel = os.path.relpath(path, root)
        layer = rel.split(os.sep)[0]
        if layer not in ORDER:
            continue
        mine = ORDER.index(layer)
        for n, line in enumerate(open(path), 1):
            code = line.split("//")[0]
            for m in re.finditer(r"\bcrate::([a-z_]+)", code):
                tgt = m.group(1)
                if tgt in BASE or tgt not in ORDER:
                    continue
                if ORDER.index(tgt) > mine:
                    bad.append(f"src/{rel}:{n}: {layer} uses {tgt}: {line.strip()}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
