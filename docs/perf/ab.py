#!/usr/bin/env python3
"""Interleaved A/B of two `alexnet-lab` binaries (before / after a kernel change), A B A B ...

    python3 docs/perf/ab.py OLD_BINARY NEW_BINARY [--rounds 3] [--only train/64/96,forward/256/96]

Prints each run and, per step, the medians and the ratio new / old. A benchmark, not a test:
run it on a quiet machine; the ratio of medians is what carries over between machines.
"""
import argparse, json, statistics, subprocess, sys

STEPS = [("train", 64, 96, 4), ("train", 64, 80, 4), ("train", 16, 96, 6), ("forward", 256, 96, 3),
         ("train", 64, 224, 3), ("forward", 64, 224, 4)]


def bench(binary, mode, batch, size, repeats):
    cmd = [binary, "bench", "--mode", mode, "--batch-size", str(batch), "--image-size", str(size),
           "--repeats", str(repeats), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_sec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only")
    a = ap.parse_args()
    steps = STEPS
    if a.only:
        want = {tuple(c.split("/")) for c in a.only.split(",")}
        steps = [s for s in STEPS if (s[0], str(s[1]), str(s[2])) in want]
    for mode, batch, size, repeats in steps:
        runs = {"old": [], "new": []}
        for r in range(a.rounds):
            for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
                runs[which].append(bench(getattr(a, which), mode, batch, size, repeats))
        old, new = statistics.median(runs["old"]), statistics.median(runs["new"])
        print(f"{mode:<7} batch {batch:>3} at {size:>3}: old {old:7.1f} img/s {runs['old']}, "
              f"new {new:7.1f} {runs['new']}: {new / old:.2f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
