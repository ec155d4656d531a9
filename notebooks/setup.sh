#!/usr/bin/env bash
# Installs what the notebooks need, idempotently:
#   - the Rust Jupyter kernel evcxr_jupyter (cargo install, ~10-13 min the first time) and its
#     kernel spec `rust`;
#   - Jupyter (nbconvert/nbclient/ipykernel; JupyterLab with --lab) into ./.venv with pip, unless
#     a `jupyter` with nbconvert (and, with --lab, JupyterLab) is already on PATH (e.g.
#     `conda env create -f environment.yml`);
#   - with --lab: the notebooks' dependencies (candle, polars, plotters, the crate), compiled once
#     into the shared evcxr cache (EVCXR_TMPDIR), here in the terminal, so that the first cell in
#     JupyterLab returns in seconds instead of after ~15 minutes of silent compiling.
set -euo pipefail
cd "$(dirname "$0")/.."

EVCXR_VERSION=0.22.0
if ! cargo install --list 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
  echo "installing evcxr_jupyter $EVCXR_VERSION (once)"
  cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION"
fi
evcxr_jupyter --install >/dev/null
# evcxr's code libraries link libstd dynamically; a kernel started by Jupyter (not through
# rustup's cargo) does not find it ("dlopen failed"): put the toolchain's lib dir in the spec.
# And evcxr compiles the crates a notebook `:dep`s (candle, gemm, the lab's kernels) with its own
# [profile.dev]: debug assertions and overflow checks on, opt-level 2, about half the terminal's
# training speed. Cargo takes CARGO_PROFILE_DEV_* from the environment over that profile, and a
# kernel.json `env` block applies however Jupyter is started (alexnet_lab::sys::build::KERNEL_ENV
# holds the same three; notebooks say when they are missing).
SYSROOT_LIB="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n "s/^host: //p")/lib"
python3 - "$SYSROOT_LIB" <<'PY'
import json, os, sys
spec = os.path.join(os.environ.get("JUPYTER_DATA_DIR", os.path.expanduser("~/.local/share/jupyter")), "kernels", "rust", "kernel.json")
k = json.load(open(spec))
env = k.setdefault("env", {})
env["LD_LIBRARY_PATH"] = sys.argv[1]
env.update({
    "CARGO_PROFILE_DEV_OPT_LEVEL": "3",
    "CARGO_PROFILE_DEV_DEBUG_ASSERTIONS": "false",
    "CARGO_PROFILE_DEV_OVERFLOW_CHECKS": "false",
})
json.dump(k, open(spec, "w"), indent=2)
PY

LAB=0
[ "${1:-}" = "--lab" ] && LAB=1
have_jupyter() { command -v jupyter >/dev/null && jupyter nbconvert --version >/dev/null 2>&1 && { [ $LAB = 0 ] || jupyter lab --version >/dev/null 2>&1; }; }
if ! have_jupyter && ! { [ -x .venv/bin/jupyter ] && PATH="$PWD/.venv/bin:$PATH" have_jupyter; }; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  pkgs=(nbconvert nbclient ipykernel)
  [ $LAB = 1 ] && pkgs+=(jupyterlab)
  .venv/bin/pip install -q --disable-pip-version-check "${pkgs[@]}"
fi
echo "notebook set-up ready (kernel: rust)"

if [ $LAB = 1 ]; then
  # Compile what every notebook's first cell `:dep`s, into the cache the notebooks share.
  export EVCXR_TMPDIR="${EVCXR_TMPDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-lab/evcxr}"
  mkdir -p "$EVCXR_TMPDIR"
  JUPYTER=jupyter
  [ -x .venv/bin/jupyter ] && JUPYTER=.venv/bin/jupyter
  warm=$(mktemp -d)
  python3 - "$warm/warm-up.ipynb" <<'PY'
import json, sys
cells = [':cache 4000\n:dep alexnet_lab = { path = "../alexnet_lab", default-features = false }',
         "use alexnet_lab::prelude::*;\nprintln!(\"{}\", ModelKind::AlexNet.name());"]
nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c} for c in cells],
      "metadata": {"kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"}},
      "nbformat": 4, "nbformat_minor": 5}
json.dump(nb, open(sys.argv[1], "w"))
PY
  cp "$warm/warm-up.ipynb" notebooks/.warm-up.ipynb
  echo "compiling the notebooks' dependencies into $EVCXR_TMPDIR"
  echo "(the first time ~15 minutes on 2 cores; afterwards seconds)"
  start=$(date +%s)
  ( while sleep 30; do echo "  ... $(( $(date +%s) - start )) s"; done ) &
  ticker=$!
  trap 'kill $ticker 2>/dev/null; rm -rf "$warm" notebooks/.warm-up.ipynb' EXIT
  "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=rust \
    --ExecutePreprocessor.timeout=3600 --output-dir "$warm" notebooks/.warm-up.ipynb >/dev/null 2>&1 \
    || { echo "error: compiling the notebooks' dependencies failed; run: $JUPYTER nbconvert --execute notebooks/05_training.ipynb to see why" >&2; exit 1; }
  echo "notebook dependencies compiled in $(( $(date +%s) - start )) s; open the lab with: bash notebooks/lab.sh"
fi
