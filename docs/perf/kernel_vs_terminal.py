#!/usr/bin/env python3
"""The training step inside the notebooks' Rust kernel (evcxr) against `alexnet-lab bench` in the
terminal, interleaved: one kernel stays up, and each round runs the same benchmark in it and then
in the release CLI. Prints per-round images/sec and kernel/terminal ratios, and what the kernel's
build reports (`alexnet_lab::sys::build::info()`).

    python3 docs/perf/kernel_vs_terminal.py [--rounds 4] [--image-size 80] [--batch-size 64]
        [--kernel rust] [--json OUT.json]

Needs `bash notebooks/setup.sh` (kernel `rust`, jupyter_client in .venv or on PATH), the release
CLI (`cargo build --release`), and the evcxr cache of the notebooks (EVCXR_TMPDIR, as
notebooks/run_all.sh sets it); run it with nothing else on the machine. A benchmark, not a test.
To measure the kernel as evcxr builds by default, pass --kernel with a spec that lacks the
CARGO_PROFILE_DEV_* variables (and its own EVCXR_TMPDIR, or every switch rebuilds candle)."""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".venv", "lib")
if os.path.isdir(VENV):
    for d in os.listdir(VENV):
        sys.path.insert(0, os.path.join(VENV, d, "site-packages"))
from jupyter_client.manager import start_new_kernel  # noqa: E402


def cpu_name():
    info = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", info)
    fam = re.search(r"cpu family\s*:\s*(\d+)", info)
    avx512 = " avx512f" in info
    return f"{model.group(1) if model else platform.processor()} (family {fam.group(1) if fam else '?'}, {'AVX-512' if avx512 else 'AVX2'}, {os.cpu_count()} CPUs)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--kernel", default="rust")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.environ.setdefault("EVCXR_TMPDIR", os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "alexnet-lab", "evcxr"))
    cli = os.path.join(ROOT, "target", "release", "alexnet-lab")
    if not os.access(cli, os.X_OK):
        sys.exit(f"no {cli}: cargo build --release first")

    km, kc = start_new_kernel(kernel_name=a.kernel, cwd=os.path.join(ROOT, "notebooks"))
    def run(code):
        out = []
        def hook(msg):
            c = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(c["text"])
            elif msg["msg_type"] in ("execute_result", "display_data"):
                out.append(c["data"].get("text/plain", ""))
            elif msg["msg_type"] == "error":
                out.append("ERROR " + c.get("evalue", ""))
        reply = kc.execute_interactive(code, timeout=7200, output_hook=hook)
        text = "".join(out)
        if reply["content"]["status"] != "ok" or "ERROR" in text:
            sys.exit(f"kernel cell failed: {code}\n{text}")
        return text

    t0 = time.time()
    run(':dep alexnet_lab = { path = "../alexnet_lab", default-features = false }')
    run("use alexnet_lab::prelude::*;")
    build = run('println!("{}", sys::build::info());').strip()
    print(f"kernel {a.kernel} ready in {time.time() - t0:.0f} s; {build}", flush=True)
    cell = (f"let r = train::bench::Bench {{ warmup: {a.warmup}, repeats: {a.repeats}, ..train::bench::Bench::new(ModelKind::AlexNet, "
            f"train::bench::Mode::Train, {a.batch_size}, {a.image_size}) }}.run(&Device::Cpu)?; println!(\"IMG/S {{}}\", r.images_per_sec);")
    rounds = []
    for r in range(a.rounds):
        k = float(re.search(r"IMG/S ([\d.]+)", run(cell)).group(1))
        o = subprocess.run([cli, "bench", "--mode", "train", "--batch-size", str(a.batch_size), "--image-size", str(a.image_size),
                            "--warmup", str(a.warmup), "--repeats", str(a.repeats), "--json"], capture_output=True, text=True, check=True)
        t = json.loads(o.stdout)["images_per_sec"]
        rounds.append({"kernel": k, "terminal": t, "ratio": k / t})
        print(f"round {r + 1}: kernel {k:.1f} img/s, terminal {t:.1f} img/s, kernel/terminal {k / t:.2f}x", flush=True)
    km.shutdown_kernel(now=True)
    ratios = [x["ratio"] for x in rounds]
    summary = {"cpu": cpu_name(), "kernel": a.kernel, "build": build, "step": f"train {a.image_size}x{a.image_size} batch {a.batch_size}",
               "rounds": rounds, "median_ratio": statistics.median(ratios)}
    print(f"{summary['cpu']}: {summary['step']}, kernel/terminal median {summary['median_ratio']:.2f}x "
          f"(rounds {', '.join(f'{x:.2f}' for x in ratios)})")
    if a.json:
        json.dump(summary, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
