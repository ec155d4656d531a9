#!/usr/bin/env python3
"""Fails if an executed notebook has an unexecuted code cell, an error output, a panic, or
anything on stderr: evcxr reports an `Err` returned by a cell's `?` as stderr text (not as an
error), and runs on, so stderr is where a failing cell shows. Also fails on this machine's
absolute paths in text outputs (the folder above the repository, the home directory): committed
outputs must read the same on every machine. And fails when a cell's result shows as Rust's
debug form of one of the lab's types (`Svg(12345 bytes)`, `ShapeWalk([...])`): evcxr falls back
to that when the cell's `evcxr_display()` call does not compile, so the table or picture the
cell is there for is missing."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MACHINE = [p for p in {os.path.dirname(ROOT) + "/", os.path.expanduser("~") + "/"} if len(p) > 1]

# The lab's types that show themselves in a notebook, as their debug form starts.
DEBUG_FORMS = ("Svg(", "Png(", "ShapeWalk(", "History {", "Complexity {", "Comparison(", "ConfusionMatrix {",
               "Sweep {", "AspectComparison {", "AspectExamples {", "TrainConfig {", "SideBySide {", "DropoutDemo {",
               "CheckpointEval {")

bad = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    for i, c in enumerate(nb.get("cells", [])):
        if c.get("cell_type") != "code" or not "".join(c.get("source", [])).strip():
            continue
        if c.get("execution_count") is None:
            bad.append(f"{path}: cell {i} was not executed")
        for o in c.get("outputs", []):
            text = "".join(o.get("text", [])) + "".join(o.get("traceback", []))
            stderr = o.get("output_type") == "stream" and o.get("name") == "stderr"
            if o.get("output_type") == "error" or "panicked at" in text or stderr:
                bad.append(f"{path}: cell {i}: {o.get('ename', '')} {o.get('evalue', '')} {text[:300]}")
            shown = text + "".join(o.get("data", {}).get("text/plain", []))
            if o.get("output_type") == "execute_result" and shown.startswith(DEBUG_FORMS):
                bad.append(f"{path}: cell {i} shows {shown[:40]!r}...: evcxr_display did not run (see check_outputs.py)")
            for m in MACHINE:
                if m in shown:
                    bad.append(f"{path}: cell {i} prints a path of this machine ({m}...): print it relative or as $VAR")
for b in bad:
    print("FAIL", b)
sys.exit(1 if bad else 0)
