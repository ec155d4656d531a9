#!/usr/bin/env python3
"""PyTorch reference of the lab's benchmark: d2l's AlexNet, same shapes, same measurement.

Prints the same line format as `alexnet-lab bench` (`... img/s`). Not needed by CI or users.
Set-up (once): python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy
(PyPI's wheel; it runs on CPU too), or use an existing PyTorch.

    python3 docs/perf/pytorch_alexnet.py --mode train --batch-size 64 --image-size 224
"""
import argparse
import json
import resource
import statistics
import time

import torch
from torch import nn


def d2l_alexnet(image_size: int) -> nn.Sequential:
    feats = nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten())
    flat = feats(torch.zeros(1, 1, image_size, image_size)).shape[1]
    return nn.Sequential(*feats, nn.Linear(flat, 4096), nn.ReLU(), nn.Dropout(p=0.5),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(4096, 10))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "forward"], default="train")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="one JSON line, fields as `alexnet-lab bench --json`")
    ap.add_argument("--no-cudnn", action="store_true", help="torch.backends.cudnn.enabled = False (what cuDNN is worth); "
                    "TF32 is switched off process-wide with NVIDIA_TF32_OVERRIDE=0 instead")
    a = ap.parse_args()
    if a.no_cudnn:
        torch.backends.cudnn.enabled = False
    dev = torch.device(a.device)
    net = d2l_alexnet(a.image_size).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.batch_size, 1, a.image_size, a.image_size, device=dev)
    y = torch.arange(a.batch_size, device=dev) % 10
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    for i in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        if a.mode == "train":
            net.train()
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        else:
            net.eval()
            with torch.no_grad():
                net(x).sum().item()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    if a.json:
        print(json.dumps({"impl": f"PyTorch {torch.__version__}", "mode": a.mode, "batch_size": a.batch_size,
                          "image_size": a.image_size, "device": str(dev), "step_seconds": times,
                          "median_seconds": med, "images_per_sec": a.batch_size / med,
                          "cpu_seconds": ru.ru_utime + ru.ru_stime, "peak_rss_bytes": ru.ru_maxrss * 1024}))
        return
    choices = "" if dev.type != "cuda" else (f" [cudnn {'on' if torch.backends.cudnn.enabled else 'off'}, "
                                             f"cudnn.allow_tf32 {torch.backends.cudnn.allow_tf32}, "
                                             f"matmul.allow_tf32 {torch.backends.cuda.matmul.allow_tf32}]")
    print(f"PyTorch {torch.__version__} {a.mode} batch {a.batch_size} at {a.image_size}x{a.image_size} on {dev}{choices}: "
          f"{a.batch_size / med:.1f} img/s (median of {len(times)} steps, {med:.3f} s/step)")
    print(f"  CPU seconds {ru.ru_utime + ru.ru_stime:.1f}, peak memory {ru.ru_maxrss * 1024 / 1e9:.2f} GB")
    if dev.type == "cuda":
        print(f"  GPU memory: peak allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
              f"peak reserved {torch.cuda.max_memory_reserved() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
