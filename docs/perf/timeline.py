#!/usr/bin/env python3
"""One training step per thread: which op each thread runs, when, and where it runs nothing.

    perf record -F 999 --call-graph dwarf,16384 -o perf.data \
        target/release/alexnet-lab bench --mode train --batch-size 64 --image-size 80 --repeats 6
    perf script -i perf.data > perf.txt
    python3 docs/perf/timeline.py perf.txt --svg timeline.svg

perf samples each thread while it is on a CPU, every ~1 ms at 999 Hz. Each sample is charged to
an op as in `profile_by_op.py` (the innermost frame of the lab's kernels or candle's). Samples in
neither are split by their innermost frame: gemm's microkernel is "GEMM in a pool job" (a job of
a GEMM that gemm's own rayon jobs split, stolen by a pool thread whose stack does not show the
caller), anything else is "waiting (spin)" (rayon's idle loops, the scheduler). A
thread's milliseconds with no sample are "off CPU" (asleep, or preempted). The step shown is the
whole step of median length (steps run from the end of one SGD update to the end of the next).
The chart has one row per thread and one column per 2 ms; the table gives each thread's shares.
A benchmark aid, not a test.
"""
import argparse
import collections
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_by_op  # noqa: E402

HEAD = re.compile(r"^\S.*?\s(\d+)\s+([\d.]+):\s")
SPIN = "waiting (spin)"
POOL_GEMM = "GEMM in a pool job"
OFF = "off CPU"
# One letter per op in the text chart, one colour in the SVG.
STYLE = {"conv forward": ("F", "#1f77b4"), "conv input gradient": ("I", "#ff7f0e"),
         "conv weight gradient": ("W", "#2ca02c"), "conv (winograd, other)": ("w", "#98df8a"),
         "conv (other)": ("c", "#aec7e8"), "linear": ("L", "#9467bd"), "max-pool": ("P", "#8c564b"),
         "ReLU mask": ("R", "#e377c2"), "bias sums": ("b", "#bcbd22"), "SGD update": ("S", "#d62728"),
         "dropout": ("D", "#17becf"), "candle autograd": ("A", "#7f7f7f"), "candle_nn": ("n", "#c7c7c7"),
         "candle (other)": ("C", "#c49c94"), POOL_GEMM: ("G", "#393b79"), SPIN: ("~", "#f7b6d2"), OFF: (".", "#ffffff")}


def op_of(frames: list[str]) -> str:
    op = profile_by_op.op_of(frames)
    if op != "unattributed":
        return op
    return POOL_GEMM if frames and "gemm" in frames[0] and "microkernel" in frames[0] else SPIN


def samples(path: str) -> list[tuple[int, float, str]]:
    out = []
    for block in open(path, errors="replace").read().split("\n\n"):
        lines = [l for l in block.strip().split("\n") if l.strip()]
        if not lines:
            continue
        m = HEAD.match(lines[0])
        if m:
            out.append((int(m[1]), float(m[2]), op_of([l.strip() for l in lines[1:]])))
    return out


def median_step(ss: list[tuple[int, float, str]]) -> tuple[float, float, int]:
    """The step of median length, as the span between the ends of two consecutive SGD updates
    (runs of SGD samples more than 20 ms apart), and how many whole steps there were."""
    ends, last = [], None
    for _, t, op in sorted(ss, key=lambda s: s[1]):
        if op == "SGD update":
            if last is not None and t - last > 0.020:
                ends.append(last)
            last = t
    if last is not None:
        ends.append(last)
    if len(ends) < 2:
        sys.exit("fewer than two SGD updates in the profile: record more steps (--repeats)")
    spans = sorted(zip(ends, ends[1:]), key=lambda s: s[1] - s[0])
    t0, t1 = spans[(len(spans) - 1) // 2]
    return t0, t1, len(spans)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("perf_script_output")
    ap.add_argument("--svg", help="write the chart as an SVG here")
    ap.add_argument("--bin-ms", type=float, default=2.0)
    a = ap.parse_args()
    ss = samples(a.perf_script_output)
    t0, t1, n = median_step(ss)
    window = [(tid, t, op) for tid, t, op in ss if t0 < t <= t1]
    tids = sorted({tid for tid, _, _ in window}, key=lambda k: -sum(1 for s in window if s[0] == k))
    ms = (t1 - t0) * 1000
    bins = int(ms / a.bin_ms) + 1
    print(f"the median of {n} whole steps: {ms:.0f} ms, {len(tids)} threads with samples in it, 1 sample ~ 1 ms\n")
    print("per thread, share of the step:")
    main_tid = ss[0][0]  # the process's first sample is its main thread's
    for tid in tids:
        c = collections.Counter(op for k, _, op in window if k == tid)
        on = sum(c.values())
        c[OFF] = max(0.0, ms - on)  # 999 Hz: one sample per ~1 ms on CPU
        top = ", ".join(f"{op} {100 * n / ms:.0f}%" for op, n in c.most_common() if n / ms >= 0.02)
        print(f"  thread {tid}: {top}")
    print(f"\nchart, one column per {a.bin_ms:g} ms (" +
          ", ".join(f"{STYLE[o][0]} {o}" for o in STYLE) + "; * the main thread):")
    rows = {}
    for tid in tids:
        cells = [collections.Counter() for _ in range(bins)]
        for k, t, op in window:
            if k == tid:
                cells[int((t - t0) * 1000 / a.bin_ms)][op] += 1
        rows[tid] = [c.most_common(1)[0][0] if c else OFF for c in cells]
        print(f"  {tid:>7}{'*' if tid == main_tid else ' '} " + "".join(STYLE.get(op, ("?", ""))[0] for op in rows[tid]))
    if a.svg:
        w, h, left = 4, 22, 70
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(left + bins * w, 4 * 170) + 10}" '
               f'height="{40 + len(tids) * (h + 6) + 20 * ((len(STYLE) + 3) // 4)}" font-family="sans-serif" font-size="11">',
               f'<text x="4" y="14">one training step, {ms:.0f} ms; one column per {a.bin_ms:g} ms</text>']
        for r, tid in enumerate(tids):
            y = 26 + r * (h + 6)
            out.append(f'<text x="4" y="{y + 15}">{"main" if tid == main_tid else f"thread {r + 1}"}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{bins * w}" height="{h}" fill="none" stroke="#999"/>')
            for i, op in enumerate(rows[tid]):
                if op != OFF:
                    out.append(f'<rect x="{left + i * w}" y="{y}" width="{w}" height="{h}" fill="{STYLE[op][1]}"/>')
        y = 26 + len(tids) * (h + 6) + 8
        used = [op for op in STYLE if any(op in rows[t] for t in tids) or op == OFF]
        for i, op in enumerate(used):
            x, yy = 4 + (i % 4) * 170, y + (i // 4) * 20
            out.append(f'<rect x="{x}" y="{yy}" width="12" height="12" fill="{STYLE[op][1]}" stroke="#999"/>'
                       f'<text x="{x + 16}" y="{yy + 10}">{op}</text>')
        out.append("</svg>")
        Path(a.svg).write_text("\n".join(out) + "\n")
        print(f"\nchart written to {a.svg}")


if __name__ == "__main__":
    main()
