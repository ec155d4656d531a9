#!/usr/bin/env python3
"""Draws docs/predict/pipelines.png: what `alexnet-lab predict` feeds the network with
--resize resize / crop / letterbox, for non-square "photos" made from real Fashion-MNIST test
images (an ankle boot in a centred 2:1 frame, a trouser in a 1:2 frame placed near the top, a bag
off-centre in a 2:1 frame), each enlarged 3x. The pipelines do not depend on the weights, so a
seconds-long smoke checkpoint at 96x96 is enough.

    python3 docs/predict/pipelines.py      # needs target/release/alexnet-lab; stdlib only
"""
import gzip, os, struct, subprocess, tempfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(ROOT, "target/release/alexnet-lab"))
IDX = os.environ.get("FASHION_MNIST_DIR", os.path.join(ROOT, "../shared/data/fashion-mnist"))


def png(w, h, px):
    raw = b"".join(b"\0" + bytes(px[y * w:(y + 1) * w]) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def framed(img, fw, fh, x, y, k=3):
    """A 28x28 image pasted at (x, y) into a black fw x fh frame, everything enlarged k times."""
    frame = [0] * (fw * fh)
    for r in range(28):
        for c in range(28):
            frame[(y + r) * fw + x + c] = img[r * 28 + c]
    return fw * k, fh * k, [frame[(j // k) * fw + i // k] for j in range(fh * k) for i in range(fw * k)]


data = gzip.open(os.path.join(IDX, "t10k-images-idx3-ubyte.gz")).read()[16:]
image = lambda i: data[i * 784:(i + 1) * 784]
tmp = tempfile.mkdtemp(prefix="alexnet-lab-pipelines-")
photos = []
for name, (w, h, px) in [("1-boot-2x1.png", framed(image(0), 56, 28, 14, 0)),
                         ("2-trouser-1x2.png", framed(image(2), 28, 56, 0, 4)),
                         ("3-bag-2x1-left.png", framed(image(18), 56, 28, 2, 0))]:
    p = os.path.join(tmp, name)
    open(p, "wb").write(png(w, h, px))
    photos.append(p)
run = os.path.join(tmp, "run")
subprocess.run([BIN, "train", "--profile", "smoke", "--image-size", "96", "--epochs", "1", "--limit", "64", "--test-limit", "32",
                "--data-dir", IDX, "--out", run, "--quiet"], check=True, capture_output=True)
out = os.path.join(ROOT, "docs/predict/pipelines.png")
subprocess.run([BIN, "predict", "--checkpoint", run, "--show-pipelines", out] + photos, check=True)
print("wrote", out)
