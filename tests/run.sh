#!/usr/bin/env bash
# The lab's test command (the README's): every test of the workspace, on CPU.
# Idempotent; safe to run on a fresh clone. Uses the real Fashion-MNIST from the hub cache
# (HF_HOME) when it is there.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "error: cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

# One build for tests and the main job: both use the release profile.
cargo test --release --workspace

# docs/reliability/cases.md must be what the CLI prints now (the script writes its bad parquet
# files with pyarrow and its cut images with Pillow, installed into .venv once).
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import pyarrow, PIL" 2>/dev/null || .venv/bin/pip install -q --disable-pip-version-check pyarrow pillow
.venv/bin/python docs/reliability/cases.py --check
# The committed notebooks' outputs against their cells and records (also a test in
# alexnet_lab/tests/notebooks.rs); here for its warnings: outputs of an older crate than HEAD's,
# run labels without a record (`--release` makes the first an error: run it before calling
# notebook work done).
python3 notebooks/check_outputs.py --committed notebooks/[0-9]*.ipynb tests/notebooks/*.ipynb

# The lints the library promises (`lib.rs`: no unwrap/expect/panic, plus clippy's defaults) and
# the fuzz targets (a workspace of their own) still compiling; check builds share target/.
cargo clippy --all-targets -- -D warnings
# The library as notebooks import it: without the `cli` feature (no clap).
cargo clippy -p alexnet_lab --lib --no-default-features -- -D warnings
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo check --manifest-path fuzz/Cargo.toml --all-targets

# The notebooks, executed headlessly (installs evcxr_jupyter and nbconvert when missing); then
# the committed notebooks opened as a fresh clone has them (untrusted) in JupyterLab in headless
# Chromium: every plot must render as an image (needs `chromium`; .ci/run installs it).
if [ "${SKIP_NOTEBOOKS:-0}" != 1 ]; then
  bash notebooks/run_all.sh
  bash notebooks/setup.sh --lab
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
    python3 notebooks/browser_check.py notebooks/[0-9]*.ipynb tests/notebooks/*.ipynb
  else
    echo "error: no chromium for notebooks/browser_check.py: install it (apt-get install chromium) or set SKIP_NOTEBOOKS=1" >&2
    exit 1
  fi
fi
