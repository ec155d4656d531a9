#!/usr/bin/env python3
"""Time to accuracy: the lab and PyTorch train the same recipe, one after the other, same machine.

Runs `alexnet-lab train --profile <profile>` and `pytorch_train.py` with that profile's recipe,
stamps every line each prints with the seconds since its process started, and reports for each
the wall time at which an epoch's test accuracy (on all 10,000 test images) first reached the
target. The order alternates with `--rounds` (lab, torch, torch, lab, ...) so neither always
runs on a cooler or quieter machine. A benchmark, not a test: run it on a quiet machine.

    HF_HOME=../shared/data/hf HF_HUB_OFFLINE=1 FASHION_MNIST_DIR=../shared/data/fashion-mnist \
        python3 docs/perf/time_to_accuracy.py --profile cpu-full --target 0.883 --json out.json

`--lab-only` trains only the lab (a new commit timed against an earlier PyTorch run of the same
recipe on the same kind of machine).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EPOCH = re.compile(r"^epoch (\d+)/(\d+): loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+), ([\d.]+) examples/sec")


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_stamped(cmd: list[str], log: Path) -> tuple[list[dict], float]:
    """Runs `cmd`, returns its epoch lines (with `t`, seconds since start) and its total wall time."""
    t0 = time.perf_counter()
    epochs = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT) as p, \
            open(log, "w") as f:
        for line in p.stdout:
            t = time.perf_counter() - t0
            f.write(f"[{t:8.1f} s] {line}")
            f.flush()
            m = EPOCH.match(line.strip())
            if m:
                epochs.append({"epoch": int(m[1]), "loss": float(m[3]), "train_acc": float(m[4]),
                               "test_acc": float(m[5]), "examples_per_sec": float(m[6]), "t": round(t, 1)})
        rc = p.wait()
    if rc != 0:
        sys.exit(f"{cmd[0]} exited {rc}; its output is in {log}")
    return epochs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="cpu-full")
    ap.add_argument("--target", type=float, default=0.883)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--lab", default=str(ROOT / "target/release/alexnet-lab"))
    ap.add_argument("--python", default=str(ROOT / ".venv-torch/bin/python"))
    ap.add_argument("--logs", default=None, help="folder for the stamped logs (default: a temp folder)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--lab-only", action="store_true",
                    help="train only the lab (e.g. to time a new commit against an earlier PyTorch run)")
    a = ap.parse_args()
    logs = Path(a.logs or tempfile.mkdtemp(prefix="tta-"))
    logs.mkdir(parents=True, exist_ok=True)
    recipe = json.loads(subprocess.run([a.lab, "profiles", "--json", a.profile], check=True, text=True,
                                       capture_output=True, cwd=ROOT).stdout)
    torch_cmd = [a.python, str(HERE / "pytorch_train.py"), "--image-size", str(recipe["image_size"]),
                 "--batch-size", str(recipe["batch_size"]), "--epochs", str(recipe["epochs"]),
                 "--lr", str(recipe["lr"]), "--momentum", str(recipe["momentum"]),
                 "--schedule", recipe["schedule"], "--warmup-epochs", str(recipe["warmup_epochs"]),
                 "--seed", str(recipe["seed"])]
    runs = []
    for r in range(a.rounds):
        order = ["lab", "pytorch"] if r % 2 == 0 else ["pytorch", "lab"]
        order = ["lab"] if a.lab_only else order
        for who in order:
            out = logs / f"{who}-{r + 1}"
            if who == "lab":
                cmd = ["/usr/bin/time", "-v", a.lab, "train", "--profile", a.profile, "--device", "cpu", "--quiet", "--out", str(out)]
            else:
                cmd = torch_cmd
            print(f"round {r + 1}: {who} ...", flush=True)
            epochs, wall = run_stamped(cmd, logs / f"{who}-{r + 1}.log")
            if who == "lab":  # the log prints 3 decimals; metrics.csv has the exact accuracy
                rows = (out / "metrics.csv").read_text().splitlines()[1:]
                for e, row in zip(epochs, rows):
                    e["test_acc"] = float(row.split(",")[3])
            hit = next((e for e in epochs if e["test_acc"] >= a.target), None)
            runs.append({"who": who, "round": r + 1, "epochs": epochs, "wall_seconds": round(wall, 1),
                         "seconds_to_target": hit and hit["t"], "epoch_to_target": hit and hit["epoch"]})
            print(f"  {who}: " + ", ".join(f"epoch {e['epoch']} test acc {e['test_acc']:.4f} at {e['t']:.0f} s"
                                            for e in epochs)
                  + f"; total {wall:.0f} s; first >= {a.target}: "
                  + (f"{hit['t']:.0f} s (epoch {hit['epoch']})" if hit else "never"), flush=True)
    result = {"profile": a.profile, "recipe": recipe, "target": a.target, "cpu": cpu_name(),
              "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "runs": runs}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("profile", "target", "cpu", "cores")}))


if __name__ == "__main__":
    main()
