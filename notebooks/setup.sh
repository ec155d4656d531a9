#!/usr/bin/env bash
# Installs what the notebooks need, idempotently:
#   - the Rust Jupyter kernel evcxr_jupyter (cargo install, ~10-13 min the first time) and its
#     kernel spec `rust`;
#   - Jupyter (nbconvert/nbclient/ipykernel; JupyterLab with --lab) into ./.venv with pip, unless
#     a `jupyter` with nbconvert is already on PATH (e.g. `conda env create -f environment.yml`).
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
SYSROOT_LIB="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n "s/^host: //p")/lib"
python3 - "$SYSROOT_LIB" <<'PY'
import json, os, sys
spec = os.path.join(os.environ.get("JUPYTER_DATA_DIR", os.path.expanduser("~/.local/share/jupyter")), "kernels", "rust", "kernel.json")
k = json.load(open(spec))
k.setdefault("env", {})["LD_LIBRARY_PATH"] = sys.argv[1]
json.dump(k, open(spec, "w"), indent=2)
PY

if ! (command -v jupyter >/dev/null && jupyter nbconvert --version >/dev/null 2>&1); then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  pkgs=(nbconvert nbclient ipykernel)
  [ "${1:-}" = "--lab" ] && pkgs+=(jupyterlab)
  .venv/bin/pip install -q --disable-pip-version-check "${pkgs[@]}"
fi
echo "notebook set-up ready (kernel: rust)"
