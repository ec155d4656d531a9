#!/usr/bin/env bash
# Opens the notebooks in JupyterLab, with the Rust kernel sharing the evcxr cache that
# `notebooks/setup.sh --lab` filled (so no notebook compiles candle again).
#   bash notebooks/lab.sh [jupyter lab options, e.g. --port 8890]
set -euo pipefail
cd "$(dirname "$0")/.."
bash notebooks/setup.sh --lab
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-lab/evcxr}"
JUPYTER=jupyter
[ -x .venv/bin/jupyter ] && JUPYTER=.venv/bin/jupyter
exec "$JUPYTER" lab --notebook-dir=notebooks "$@"
