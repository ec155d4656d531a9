#!/usr/bin/env python3
"""PyTorch reference of a lab training run: the same recipe, the same data, the same log lines.

Trains d2l's AlexNet (`pytorch_alexnet.d2l_alexnet`) on all of Fashion-MNIST the way
`alexnet-lab train` does: d2l's `train_ch6` (Xavier-uniform weights, PyTorch-default biases,
cross-entropy, running train loss/acc, test accuracy on every test image after each epoch),
SGD with momentum, the lab's learning-rate schedule (linear warm-up, then constant or half a
cosine down to 0, stepped per batch), images resized bilinearly from 28x28 to the run's size
and scaled to [0, 1] (d2l's `Resize` + `ToTensor`, no normalisation). Prints one line per epoch
in the lab's format (`epoch 2/4: loss ..., train acc ..., test acc ..., ... examples/sec (... s)`),
so `time_to_accuracy.py` reads both programs' output the same way.

Data: the classic IDX files (`--data-dir`, default $FASHION_MNIST_DIR). Not needed by CI or users.

    python3 docs/perf/pytorch_train.py --data-dir ../shared/data/fashion-mnist --image-size 80 \
        --epochs 4 --schedule cosine --warmup-epochs 0.3
"""
import argparse
import gzip
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pytorch_alexnet import d2l_alexnet


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def lr_at(a, epoch: int, step: int, steps: int) -> float:
    """The lab's `TrainConfig::lr_at`, line by line."""
    t = epoch + step / steps
    w = a.warmup_epochs
    if w > 0 and t < w:
        return a.lr * min((t + 1 / steps) / w, 1.0)
    if a.schedule == "constant":
        return a.lr
    progress = min(max((t - w) / max(a.epochs - w, 1e-300), 0.0), 1.0)
    return a.lr * 0.5 * (1 + math.cos(math.pi * progress))


def batches(images: np.ndarray, labels: np.ndarray, size: int, batch: int, order: np.ndarray):
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        x = torch.from_numpy(images[idx]).float().unsqueeze(1)
        if size != x.shape[-1]:
            # Upsampling: PIL's bilinear filter equals half-pixel bilinear interpolation; round
            # to 8 bits as a resized PIL/`image` picture is.
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).round().clamp(0, 255)
        yield x / 255.0, torch.from_numpy(labels[idx].astype(np.int64))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("FASHION_MNIST_DIR", "../shared/data/fashion-mnist"))
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    ap.add_argument("--warmup-epochs", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="first N training images only (a rehearsal)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    d = Path(a.data_dir)
    xtr, ytr = read_idx(d / "train-images-idx3-ubyte.gz"), read_idx(d / "train-labels-idx1-ubyte.gz")
    xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    xte, yte = read_idx(d / "t10k-images-idx3-ubyte.gz"), read_idx(d / "t10k-labels-idx1-ubyte.gz")
    net = d2l_alexnet(a.image_size)
    for m in net:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(a.seed)
    steps = math.ceil(len(ytr) / a.batch_size)
    print(f"training AlexNet (PyTorch {torch.__version__}, {torch.get_num_threads()} threads) on {d} "
          f"({len(ytr)} train / {len(yte)} test examples, {a.image_size}x{a.image_size}, batch {a.batch_size}, "
          f"lr {a.lr} {a.schedule} after {a.warmup_epochs} warm-up epochs, momentum {a.momentum}, {a.epochs} epochs)",
          flush=True)
    for epoch in range(a.epochs):
        t_epoch = time.perf_counter()
        net.train()
        loss_sum, correct, n, train_s = 0.0, 0, 0, 0.0
        for step, (x, y) in enumerate(batches(xtr, ytr, a.image_size, a.batch_size, rng.permutation(len(ytr)))):
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(a, epoch, step, steps)
            opt.zero_grad()
            out = net(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            train_s += time.perf_counter() - t0
            loss_sum += loss.item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
            n += len(y)
        net.eval()
        right = 0
        with torch.no_grad():
            for x, y in batches(xte, yte, a.image_size, 256, np.arange(len(yte))):
                right += (net(x).argmax(1) == y).sum().item()
        print(f"epoch {epoch + 1}/{a.epochs}: loss {loss_sum / n:.3f}, train acc {correct / n:.3f}, "
              f"test acc {right / len(yte):.3f}, {n / train_s:.1f} examples/sec "
              f"({time.perf_counter() - t_epoch:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
