#!/usr/bin/env python3
"""Runs every bad-input case of the reliability suite through the real CLI and writes what it
printed (exit code + the error line) as a markdown table: docs/reliability/cases.md.

    .venv/bin/python docs/reliability/cases.py          # needs pyarrow (to write bad parquet files)
    .venv/bin/python docs/reliability/cases.py --check  # the test command: fails unless the
                                                        # committed table is what it prints now

With --check nothing is written: the table is made in memory and compared with the committed
docs/reliability/cases.md (the step counts of the process cases, which depend on when a signal
lands, are compared as digits-masked text); a difference fails with a diff and the command that
writes the table again.

The same cases are asserted by the tests (tests/cli.rs, alexnet_lab/tests/data_faults.rs,
alexnet_lab/tests/train.rs, ...); this script only records the messages for people to read.
Uses HF_HOME / FASHION_MNIST_DIR like the tests (default ../shared/data).
"""
import glob, gzip, hashlib, json, re, http.server, os, resource, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time, zlib

import pyarrow as pa  # noqa: E402 (and Pillow, in photos())
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The binary cargo built: under CARGO_TARGET_DIR when the test command was given one. Its Ctrl-C
# cases hold a run at a phase, so it must be the tests' build, with the `failpoints` feature
# (what `cargo test --release` leaves there; or `cargo build --release --features failpoints`).
BIN = os.environ.get("BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release/alexnet-lab"))
# Absolute, resolved paths: the table names them as $HF_HOME / $FASHION_MNIST_DIR whether they came
# from the environment (CI: absolute) or from the defaults (ROOT/..: relative to the repository).
HF = os.path.realpath(os.environ.get("HF_HOME", os.path.join(ROOT, "../shared/data/hf")))
IDX = os.path.realpath(os.environ.get("FASHION_MNIST_DIR", os.path.join(ROOT, "../shared/data/fashion-mnist")))
TMP = tempfile.mkdtemp(prefix="alexnet-lab-cases-")
TEST_PARQUET = sorted(glob.glob(os.path.join(HF, "hub/datasets--zalando-datasets--fashion_mnist/snapshots/*/fashion_mnist/test-00000-of-00001.parquet")))[0]


def png(w, h):
    raw = b"".join(b"\0" + bytes(w) for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def hub_with_train(name, write):
    home = os.path.join(TMP, "hub-" + name)
    repo = os.path.join(home, "hub/datasets--zalando-datasets--fashion_mnist")
    snap = os.path.join(repo, "snapshots", "0" * 40, "fashion_mnist")
    os.makedirs(snap)
    os.makedirs(os.path.join(repo, "refs"))
    open(os.path.join(repo, "refs/main"), "w").write("0" * 40)
    write(os.path.join(snap, "train-00000-of-00001.parquet"))
    shutil.copy(TEST_PARQUET, os.path.join(snap, "test-00000-of-00001.parquet"))
    return {"HF_HOME": home, "HF_HUB_OFFLINE": "1"}


def rows(images, labels):
    image = pa.array([{"bytes": b, "path": None} for b in images], pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    return pa.table({"image": image, "label": pa.array(labels, pa.int64())})


def idx_dir(name, file=None, data=None, drop=()):
    d = os.path.join(TMP, "idx-" + name)
    os.makedirs(d)
    for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]:
        if f not in drop:
            shutil.copy(os.path.join(IDX, f), os.path.join(d, f))
    if file:
        open(os.path.join(d, file), "wb").write(data)
    return d


real_labels = open(os.path.join(IDX, "t10k-labels-idx1-ubyte.gz"), "rb").read()
good = pq.read_table(TEST_PARQUET).slice(0, 3)
CASES = [
    ("bad data", "no data offline (no hub cache)", ["data", "info"], {"HF_HOME": os.path.join(TMP, "empty"), "HF_HUB_OFFLINE": "1"}),
    ("bad data", "parquet: not parquet", ["data", "info"], hub_with_train("notparquet", lambda p: open(p, "wb").write(b"not parquet"))),
    ("bad data", "parquet: truncated", ["data", "info"], hub_with_train("truncated", lambda p: open(p, "wb").write(open(TEST_PARQUET, "rb").read()[:100000]))),
    ("bad data", "parquet: corrupt data page header (found by fuzzing)", ["data", "info"], hub_with_train("pageheader", lambda p: open(p, "wb").write(open(os.path.join(ROOT, "fuzz/regressions/parquet/crash-125e570248a314ff059cead603ad6bc33fa34753"), "rb").read()))),
    ("bad data", "parquet: wrong schema", ["data", "info"], hub_with_train("schema", lambda p: pq.write_table(pa.table({"pixels": [1, 2], "label": [0, 1]}), p))),
    ("bad data", "parquet: undecodable PNG", ["data", "info"], hub_with_train("png", lambda p: pq.write_table(rows([b"\x89PNG garbage"], [1]), p))),
    ("bad data", "parquet: label outside 0-9", ["data", "info"], hub_with_train("label", lambda p: pq.write_table(rows([png(28, 28)] * 2, [1, 12]), p))),
    ("bad data", "parquet: image not 28x28", ["data", "info"], hub_with_train("size", lambda p: pq.write_table(rows([png(32, 28)], [1]), p))),
    ("bad data", "IDX: wrong magic", ["data", "info", "--data-dir", idx_dir("magic", "t10k-images-idx3-ubyte.gz", real_labels)], {}),
    ("bad data", "IDX: dimensions disagree with the length", ["data", "info", "--data-dir", idx_dir("dims", "t10k-images-idx3-ubyte.gz", gzip.compress(struct.pack(">4B3I", 0, 0, 8, 3, 9, 28, 28) + bytes(784)))], {}),
    ("bad data", "IDX: truncated gzip", ["data", "info", "--data-dir", idx_dir("trunc", "t10k-labels-idx1-ubyte.gz", real_labels[: len(real_labels) // 2])], {}),
    ("bad data", "IDX: only some of the four files", ["data", "info", "--data-dir", idx_dir("partial", drop=("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"))], {}),
    ("bad configuration", "batch size 0", ["train", "--profile", "smoke", "--batch-size", "0"], {}),
    ("bad configuration", "image too small for AlexNet", ["train", "--profile", "smoke", "--image-size", "64"], {}),
    ("bad configuration", "absurd image size", ["train", "--profile", "smoke", "--image-size", "100000"], {}),
    ("bad configuration", "negative learning rate", ["train", "--profile", "smoke", "--lr", "-0.1"], {}),
    ("bad configuration", "NaN learning rate", ["train", "--profile", "smoke", "--lr", "NaN"], {}),
    ("bad configuration", "unknown device", ["train", "--profile", "smoke", "--device", "tpu:0"], {}),
    ("bad configuration", "cuda:0 in a CPU-only build", ["train", "--profile", "smoke", "--device", "cuda:0"], {}),
    ("bad configuration", "non-square input", ["shapes", "--input", "1x224x200"], {}),
    ("bad configuration", "input too small", ["complexity", "--input", "1x64x64"], {}),
    ("bad configuration", "unknown model", ["shapes", "--model", "vgg"], {}),
    ("bad configuration", "bad memory budget", ["memory", "--budget", "lots"], {}),
    ("numerical", "a finite loss far above chance (lr 1e8)", ["train", "--profile", "smoke", "--lr", "1e8", "--out", os.path.join(TMP, "diverge")], None),
    ("numerical", "loss becomes inf/NaN (lr 1e300)", ["train", "--profile", "smoke", "--epochs", "1", "--limit", "64", "--test-limit", "32", "--lr", "1e300", "--momentum", "0", "--out", os.path.join(TMP, "nan")], None),
    ("refused (over budget)", "batch size over the CPU budget", ["memory", "--image-size", "96", "--batch-sizes", "8,4096", "--budget", "1G", "--steps", "1"], None),
    ("checkpoint", "weights file replaced by a FIFO", ["eval", "--checkpoint", os.path.join(TMP, "fifo-run"), "--limit", "32"], None),
    ("checkpoint", "no checkpoint in the folder", ["eval", "--checkpoint", os.path.join(TMP, "empty-run")], {}),
    ("checkpoint", "not an image", ["predict", "--checkpoint", os.path.join(TMP, "lenet"), os.path.join(ROOT, "Cargo.toml")], None),
    ("checkpoint", "resume with another learning rate", ["train", "--model", "lenet", "--image-size", "28", "--epochs", "2", "--limit", "64", "--lr", "0.5", "--out", os.path.join(TMP, "lenet"), "--resume"], None),
    ("download", "hub unreachable (nothing listens)", ["data", "info"], {"HF_HOME": os.path.join(TMP, "dl-refused"), "HF_ENDPOINT": "http://127.0.0.1:9"}),
    ("download", "hub never answers", ["eval", "--checkpoint", os.path.join(TMP, "lenet")], "hub:silent"),
    ("download", "HTTP 404", ["eval", "--checkpoint", os.path.join(TMP, "lenet")], "hub:404"),
    ("download", "HTTP 500", ["eval", "--checkpoint", os.path.join(TMP, "lenet")], "hub:500"),
    ("download", "connection dropped halfway", ["eval", "--checkpoint", os.path.join(TMP, "lenet")], "hub:drop"),
    ("download", "corrupt bytes (same length)", ["eval", "--checkpoint", os.path.join(TMP, "lenet")], "hub:corrupt"),
    ("photos", "a folder: a good PNG, a broken JPEG, a GIF, a 60000x60000 PNG header", ["predict", "--checkpoint", os.path.join(TMP, "lenet"), os.path.join(TMP, "photos")], None),
    ("image folder", "training on class folders holding a broken JPEG, a GIF and a loose image", ["train", "--model", "lenet", "--epochs", "1", "--data-dir", os.path.join(TMP, "classes-bad"), "--out", os.path.join(TMP, "classes-run")], None),
    ("photos", "files cut short: a JPEG cut to a third, a PNG without its last byte, a WebP cut after its header, beside a whole PNG", ["predict", "--checkpoint", os.path.join(TMP, "lenet"), os.path.join(TMP, "truncated")], None),
    ("image folder", "training on class folders holding a JPEG cut in half and a PNG without its last byte", ["train", "--model", "lenet", "--epochs", "1", "--data-dir", os.path.join(TMP, "classes-cut"), "--out", os.path.join(TMP, "classes-run")], None),
    ("image folder", "one class folder", ["train", "--model", "lenet", "--epochs", "1", "--data-dir", os.path.join(TMP, "classes-one"), "--out", os.path.join(TMP, "classes-run")], None),
    ("image folder", "a class with fewer than 5 images and no test/ folder", ["data", "info", "--data-dir", os.path.join(TMP, "classes-few")], None),
    ("checkpoint", "checkpoint of another input size", ["train", "--model", "lenet", "--image-size", "32", "--epochs", "2", "--limit", "64", "--out", os.path.join(TMP, "lenet"), "--resume"], None),
]


def stub_hub(mode):
    """A stand-in hub on 127.0.0.1 serving the real test parquet file the way the hub does
    (X-Repo-Commit, ETag = SHA-256, Content-Range), with a fault; returns its endpoint."""
    data = open(TEST_PARQUET, "rb").read()
    sha = hashlib.sha256(data).hexdigest()
    if mode == "silent":  # accepts connections, never answers
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        threading.Thread(target=lambda: (time.sleep(120), s.close()), daemon=True).start()
        return "http://127.0.0.1:%d" % s.getsockname()[1]

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if mode in (404, 500):
                self.send_response(mode)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(self.headers.get("Range", "bytes=0-").split("=")[1].split("-")[0] or 0)
            end = 0 if self.headers.get("Range", "").endswith("-0") else len(data) - 1
            body = data[start:end + 1]
            if mode == "corrupt" and len(body) > 1:
                body = body[:100] + bytes(b ^ 0x5A for b in body[100:164]) + body[164:]
            self.send_response(206)
            for k, v in [("X-Repo-Commit", "531be5e2ccc9dba0c201ad3ae567a4f3d16ecdd2"), ("ETag", '"%s"' % sha),
                         ("Content-Range", "bytes %d-%d/%d" % (start, end, len(data))), ("Content-Length", str(len(body)))]:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if mode == "drop" and len(body) > 1 else body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % srv.server_address[1]


def hub_env(mode):
    return {"HF_HOME": os.path.join(TMP, "dl-%s" % mode), "HF_ENDPOINT": stub_hub(mode), "ALEXNET_LAB_HUB_TIMEOUT": "2"}


def photos():
    d = os.path.join(TMP, "photos")
    os.makedirs(d)
    shutil.copy(os.path.join(ROOT, "data/fixtures/resize/test0_96.png"), os.path.join(d, "ok.png"))
    open(os.path.join(d, "broken.jpg"), "wb").write(b"\xff\xd8\xff\xe0 cut here")
    open(os.path.join(d, "anim.gif"), "wb").write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    big = bytearray(png(1, 1))
    big[16:24] = struct.pack(">II", 60000, 60000)
    big[29:33] = struct.pack(">I", zlib.crc32(bytes(big[12:29])) & 0xFFFFFFFF)
    open(os.path.join(d, "huge.png"), "wb").write(big)
    ok = os.path.join(ROOT, "data/fixtures/resize/test0_96.png")
    for name, classes, n in [("classes-bad", ["bag", "coat"], 5), ("classes-one", ["bag"], 5), ("classes-few", ["bag", "coat"], 3)]:
        for c in classes:
            os.makedirs(os.path.join(TMP, name, c))
            for i in range(n):
                shutil.copy(ok, os.path.join(TMP, name, c, "%d.png" % i))
    shutil.copy(os.path.join(d, "broken.jpg"), os.path.join(TMP, "classes-bad", "bag", "broken.jpg"))
    shutil.copy(os.path.join(d, "anim.gif"), os.path.join(TMP, "classes-bad", "coat", "anim.gif"))
    shutil.copy(ok, os.path.join(TMP, "classes-bad", "loose.png"))
    # Files cut short (an interrupted download or copy), made from the same real image by Pillow.
    import io
    from PIL import Image
    encoded = {}
    for fmt in ["JPEG", "PNG", "WEBP"]:
        buf = io.BytesIO()
        Image.open(ok).convert("RGB").save(buf, fmt)
        encoded[fmt] = buf.getvalue()
    cut = os.path.join(TMP, "truncated")
    os.makedirs(cut)
    shutil.copy(ok, os.path.join(cut, "whole.png"))
    open(os.path.join(cut, "third.jpg"), "wb").write(encoded["JPEG"][: len(encoded["JPEG"]) // 3])
    open(os.path.join(cut, "short.png"), "wb").write(encoded["PNG"][:-1])
    open(os.path.join(cut, "header.webp"), "wb").write(encoded["WEBP"][:30])
    for c in ["bag", "coat"]:
        os.makedirs(os.path.join(TMP, "classes-cut", c))
        for i in range(5):
            shutil.copy(ok, os.path.join(TMP, "classes-cut", c, "%d.png" % i))
    open(os.path.join(TMP, "classes-cut", "bag", "half.jpg"), "wb").write(encoded["JPEG"][: len(encoded["JPEG"]) // 2])
    open(os.path.join(TMP, "classes-cut", "coat", "short.png"), "wb").write(encoded["PNG"][:-1])
    return d


SMOKE = ["train", "--profile", "smoke", "--limit", "64", "--test-limit", "32", "--data-dir", IDX]


def process_cases(base):
    """Faults that need a running process: a second run on a busy folder, Ctrl-C, a full disk."""
    out = []
    run = os.path.join(TMP, "busy")

    def held(args, point):
        """Starts a run that waits at the failpoint `point` (sys::failpoint) and returns it once it
        is there: each case acts on a phase of the run, not after a guessed time."""
        p = subprocess.Popen([BIN] + args, env={**base, "ALEXNET_LAB_FAILPOINT": "hold:" + point},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stdout:
            if line.startswith("failpoint: holding at " + point):
                return p
        raise SystemExit(f"the run ended before {point}: {p.communicate()}")

    busy = SMOKE[:3] + ["--epochs", "3", "--limit", "2048", "--test-limit", "32", "--data-dir", IDX, "--out", run, "--quiet"]
    # The first run waits after the first step of epoch 2 (epoch 1 saved, the folder locked).
    first = held(busy, "after-step-2-1")
    second = ["train", "--profile", "smoke", "--out", "<tmp>/busy", "--resume"]
    o = subprocess.run([BIN] + SMOKE + ["--out", run, "--resume", "--quiet"], env=base, capture_output=True, text=True)
    out.append(("process", "a second run on the same --out while the first runs", second, o))
    first.send_signal(signal.SIGINT)
    first.communicate()
    # Resumed from epoch 1, Ctrl-C while it waits after step 3 of epoch 2.
    p = held(busy + ["--resume"], "after-step-2-3")
    p.send_signal(signal.SIGINT)
    so, se = p.communicate()
    out.append(("process", "Ctrl-C during training", ["train", "--profile", "smoke", "--epochs", "3", "--limit", "2048", "--out", "<tmp>/busy", "--resume"],
                subprocess.CompletedProcess(p.args, p.returncode, so, se)))

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    full = os.path.join(TMP, "full")
    subprocess.run([BIN] + SMOKE + ["--epochs", "1", "--out", full, "--quiet"], env=base, check=True, capture_output=True)
    o = subprocess.run([BIN] + SMOKE + ["--epochs", "2", "--out", full, "--resume", "--quiet"], env=base, capture_output=True, text=True, preexec_fn=limit_files)
    out.append(("process", "disk full during a save (8 MB file-size limit)", ["train", "--profile", "smoke", "--epochs", "2", "--out", "<tmp>/full", "--resume"], o))
    return out


def main():
    os.makedirs(os.path.join(TMP, "empty-run"))
    # A small real checkpoint for the checkpoint cases.
    subprocess.run([BIN, "train", "--model", "lenet", "--image-size", "28", "--epochs", "1", "--limit", "64", "--test-limit", "32",
                    "--out", os.path.join(TMP, "lenet"), "--quiet"], env={**os.environ, "HF_HOME": HF, "HF_HUB_OFFLINE": "1"},
                   check=True, capture_output=True)
    photos()
    # A run folder whose weights file is a FIFO (eval used to hang on it).
    shutil.copytree(os.path.join(TMP, "lenet"), os.path.join(TMP, "fifo-run"))
    weights = json.load(open(os.path.join(TMP, "fifo-run", "checkpoint.json")))["weights"]
    os.remove(os.path.join(TMP, "fifo-run", weights))
    os.mkfifo(os.path.join(TMP, "fifo-run", weights))
    base = {k: v for k, v in os.environ.items() if k not in ("HF_HOME", "HF_HUB_OFFLINE", "HF_ENDPOINT")}
    base.setdefault("HF_HOME", HF)
    lines = ["| kind | case | command | exit | what it printed |", "|---|---|---|---|---|"]
    runs = []
    for kind, case, args, env in CASES:
        e = dict(base)
        if env is None:
            e.update({"HF_HOME": HF, "HF_HUB_OFFLINE": "1"})
        elif isinstance(env, str):
            e.update(hub_env(env.split(":")[1] if not env.split(":")[1].isdigit() else int(env.split(":")[1])))
        else:
            e.update(env)
        o = subprocess.run([BIN] + args + (["--quiet"] if args[0] == "train" else []), env=e, capture_output=True, text=True, timeout=600)
        runs.append((kind, case, args, o))
    runs += process_cases({**base, "HF_HOME": HF, "HF_HUB_OFFLINE": "1"})
    for kind, case, args, o in runs:
        text = (o.stderr + o.stdout)
        msg = [l for l in text.splitlines() if "error" in l.lower() or "out of memory" in l or "refused before running" in l or "interrupted" in l]
        msg = " ".join(msg) if kind in ("photos", "process") else (msg[0] if msg else text.strip().splitlines()[-1])
        if case == "Ctrl-C during training" or kind == "image folder":
            msg = " ".join(l.strip() for l in o.stderr.strip().splitlines())
        assert "panicked" not in text, (case, text)
        shown = " ".join(a if not a.startswith(TMP) else "<tmp>/" + os.path.basename(a) for a in args).replace(HF, "$HF_HOME").replace(IDX, "$FASHION_MNIST_DIR").replace(ROOT + "/", "")
        msg = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", msg)
        msg = msg.replace(BIN, "alexnet-lab").replace(TMP, "<tmp>").replace(HF, "$HF_HOME").replace(IDX, "$FASHION_MNIST_DIR").replace(ROOT + "/", "").replace("|", "\\|")
        lines.append(f"| {kind} | {case} | `alexnet-lab {shown}` | {o.returncode} | {msg} |")
        print(f"{o.returncode:>3} {case}", file=sys.stderr)
    out = os.path.join(ROOT, "docs/reliability/cases.md")
    table = "# Every bad-input case, through the CLI\n\nWritten by `docs/reliability/cases.py` from real runs of `alexnet-lab`; no output contains `panicked`.\n\n" + "\n".join(lines) + "\n"
    shutil.rmtree(TMP)
    if "--check" in sys.argv[1:]:
        import difflib
        # Rows of the process cases hold step counts that depend on when a signal lands.
        # and those of the numerical cases losses whose last digits depend on the CPU's kernels.
        mask = lambda t: [re.sub(r"\d+", "N", l) if l.startswith(("| process |", "| numerical |")) else l for l in t.splitlines()]
        committed = open(out).read() if os.path.exists(out) else ""
        diff = list(difflib.unified_diff(mask(committed), mask(table), "committed cases.md", "what the CLI prints now", lineterm=""))
        if diff:
            print("\n".join(diff), file=sys.stderr)
            print(f"error: {out} is not what the CLI prints now: write it again with .venv/bin/python docs/reliability/cases.py", file=sys.stderr)
            sys.exit(1)
        print(f"{out} matches what the CLI prints ({len(lines) - 2} cases)", file=sys.stderr)
        return
    open(out, "w").write(table)
    print("wrote", out, file=sys.stderr)


main()
