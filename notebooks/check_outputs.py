#!/usr/bin/env python3
"""Fails if an executed notebook has an unexecuted code cell, an error output, a panic, or
anything on stderr: evcxr reports an `Err` returned by a cell's `?` as stderr text (not as an
error), and runs on, so stderr is where a failing cell shows."""
import json
import sys

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
for b in bad:
    print("FAIL", b)
sys.exit(1 if bad else 0)
