#!/usr/bin/env python3
"""One command for the performance table: stock candle, the lab, and PyTorch, run interleaved
(A B C A B C ...) on the same machine, medians of medians, ratios printed.

    python3 docs/perf/compare.py [--rounds 2] [--device cpu] [--out docs/perf/latest.json]
        [--only train/64/96,forward/256/96] [--impls alexnet_lab,lab direct,PyTorch]

Needs the release binary (`cargo build --release`) and a Python with PyTorch (PYTHON, default
.venv-torch/bin/python; see pytorch_alexnet.py). "stock candle" is the same network with
candle's own conv2d, Linear and SGD arithmetic with their backward (ALEXNET_LAB_KERNELS=candle;
tables made before 2026-11-30 used ALEXNET_LAB_CONV=candle, which left the lab's in-place SGD
update on) and glibc's allocator defaults (ALEXNET_LAB_MALLOC=system); candle has no backward for
AlexNet's overlapping 3/2 max-pool at all, so that stays the lab's in every column.
"lab direct" is the lab with every convolution as im2col + GEMM (ALEXNET_LAB_KERNELS=direct: no
Winograd, the lab's kernels before 2026-12-03).
A benchmark, not a test: run it on a quiet machine.
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(ROOT, "target/release/alexnet-lab"))
PY = os.environ.get("PYTHON", os.path.join(ROOT, ".venv-torch/bin/python"))

# (mode, batch, size, implementations, repeats): the table.
CONFIGS = [
    ("train", 64, 224, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 3),
    ("forward", 64, 224, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 5),
    ("train", 16, 96, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 5),
    ("train", 64, 96, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 3),  # the `cpu` training profile's step
    ("train", 128, 224, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 2),
    ("forward", 256, 96, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 3),  # evaluation at 96x96
    ("train", 64, 80, ["stock candle", "lab direct", "alexnet_lab", "PyTorch"], 3),  # the `cpu-full` profile's step
]


def run(impl, mode, batch, size, repeats, device):
    common = ["--mode", mode, "--batch-size", str(batch), "--image-size", str(size), "--repeats", str(repeats),
              "--device", device, "--json"]
    env = dict(os.environ)
    if impl == "PyTorch":
        cmd = [PY, os.path.join(ROOT, "docs/perf/pytorch_alexnet.py")] + common
    else:
        cmd = [BIN, "bench"] + common
        if impl == "stock candle":
            env["ALEXNET_LAB_MALLOC"] = "system"  # glibc's defaults, as any candle program gets
        chosen = {"stock candle": "candle", "lab direct": "direct"}
        env["ALEXNET_LAB_KERNELS"] = chosen.get(impl, env.get("ALEXNET_LAB_KERNELS", ""))
        if not env["ALEXNET_LAB_KERNELS"]:
            del env["ALEXNET_LAB_KERNELS"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name():
    """The CPU as /proc/cpuinfo names it, with its family (26: AMD Zen 5) and whether gemm's and
    oneDNN's AVX-512 kernels can run."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    field = lambda k: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(k)), "?")
    flags = field("flags").split()
    return f"{field('model name')}, family {field('cpu family')} model {field('model')}, " + \
        ("AVX-512 (avx512f)" if "avx512f" in flags else "AVX2, no AVX-512" if "avx2" in flags else "no AVX2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out")
    ap.add_argument("--only", help="a subset of the table, e.g. train/64/96,forward/256/96")
    ap.add_argument("--impls", help="a subset of the implementations, e.g. alexnet_lab,PyTorch")
    a = ap.parse_args()
    configs = CONFIGS
    if a.only:
        want = {tuple(c.split("/")) for c in a.only.split(",")}
        configs = [c for c in CONFIGS if (c[0], str(c[1]), str(c[2])) in want]
    if a.impls:
        configs = [(m, b, s, [i for i in impls if i in a.impls.split(",")], r) for m, b, s, impls, r in configs]
    results = []
    for mode, batch, size, impls, repeats in configs:
        rows = {i: [] for i in impls}
        for r in range(a.rounds):
            for impl in impls:
                res = run(impl, mode, batch, size, repeats, a.device)
                rows[impl].append(res)
                print(f"round {r + 1}: {impl:<12} {mode:<7} batch {batch:>3} at {size}: {res['images_per_sec']:7.1f} img/s, "
                      f"peak {res['peak_rss_bytes'] / 1e9:.2f} GB", file=sys.stderr, flush=True)
        for impl, rs in rows.items():
            results.append({"impl": impl, "mode": mode, "batch_size": batch, "image_size": size,
                            "images_per_sec": statistics.median(x["images_per_sec"] for x in rs),
                            "peak_rss_bytes": max(x["peak_rss_bytes"] or 0 for x in rs),
                            "runs": [x["images_per_sec"] for x in rs]})
    torch_of = {(r["mode"], r["batch_size"], r["image_size"]): r for r in results if r["impl"] == "PyTorch"}
    # Each round's ratio too: the runs of one round ran back to back, so they share the machine's state.
    for r in results:
        t = torch_of.get((r["mode"], r["batch_size"], r["image_size"]))
        if t and r["impl"] != "PyTorch":
            per = ", ".join(f"{a / b:.2f}" for a, b in zip(r["runs"], t["runs"]))
            print(f"{r['impl']:<12} {r['mode']} {r['batch_size']}/{r['image_size']}: vs PyTorch by round {per}", file=sys.stderr)
    print(f"\n{'':<12} {'mode':<8}{'batch':>6}{'size':>6}{'img/s':>9}{'vs PyTorch':>12}{'peak GB':>9}")
    for r in results:
        t = torch_of.get((r["mode"], r["batch_size"], r["image_size"]))
        ratio = r["images_per_sec"] / t["images_per_sec"] if t else float("nan")
        print(f"{r['impl']:<12} {r['mode']:<8}{r['batch_size']:>6}{r['image_size']:>6}{r['images_per_sec']:>9.1f}"
              f"{ratio:>11.2f}x{r['peak_rss_bytes'] / 1e9:>9.2f}")
    if a.out:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": cpu_name(),
                "cpus": os.cpu_count(), "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                                                 capture_output=True, text=True).stdout.strip()}
        json.dump({"meta": meta, "results": results}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
