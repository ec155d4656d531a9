"""Writes the small seed corpus of the fuzz targets from the real Fashion-MNIST (run once;
the seeds are committed). Needs pyarrow:  python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow
    /tmp/pa/bin/python fuzz/make_seeds.py ../shared/data/hf ../shared/data/fashion-mnist
The checkpoint seed comes from the lab itself (see fuzz/README.md)."""
import glob, gzip, os, struct, sys

import pyarrow.parquet as pq

hf, idx = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
corpus = lambda t, name: os.path.join(here, "corpus", t, name)

# Parquet: the hub's test file cut to its first 3 rows (same schema: image struct + label).
test = sorted(glob.glob(os.path.join(hf, "hub/datasets--zalando-datasets--fashion_mnist/snapshots/*/fashion_mnist/test-00000-of-00001.parquet")))[0]
table = pq.read_table(test).slice(0, 3)
# Uncompressed, so the fuzzer (and the tests) can reach the PNG bytes inside.
pq.write_table(table, corpus("parquet", "test-3-rows.parquet"), compression="none")
# PNG: the first two images of that file.
for i in range(2):
    with open(corpus("png", f"test-{i}.png"), "wb") as f:
        f.write(table.column("image")[i]["bytes"].as_py())

# IDX: the first 2 test images and labels, gzipped, with headers saying so; and raw.
with gzip.open(os.path.join(idx, "t10k-images-idx3-ubyte.gz")) as f:
    f.read(16)
    pixels = f.read(2 * 28 * 28)
with gzip.open(os.path.join(idx, "t10k-labels-idx1-ubyte.gz")) as f:
    f.read(8)
    labels = f.read(2)
images = struct.pack(">4B3I", 0, 0, 8, 3, 2, 28, 28) + pixels
labels = struct.pack(">4BI", 0, 0, 8, 1, 2) + labels
for name, buf in [("images-2", images), ("labels-2", labels)]:
    with open(corpus("idx", name + ".gz"), "wb") as f:
        f.write(gzip.compress(buf, mtime=0))
    with open(corpus("idx", name + ".raw"), "wb") as f:
        f.write(buf)
print("seeds written under", os.path.join(here, "corpus"))
