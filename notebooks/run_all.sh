#!/usr/bin/env bash
# Executes every notebook headlessly with nbconvert and fails on any cell error or panic.
#   bash notebooks/run_all.sh            # executed copies go to target/notebooks/
#   bash notebooks/run_all.sh --inplace  # write the outputs into the notebooks themselves
# Knobs read by the notebooks: see each notebook's first cells. Dependencies compile once per
# run: all notebooks share one EVCXR_TMPDIR (one at a time, same :dep lines and :opt level).
set -euo pipefail
cd "$(dirname "$0")/.."
bash notebooks/setup.sh
JUPYTER=jupyter
[ -x .venv/bin/jupyter ] && JUPYTER=.venv/bin/jupyter
# Outside the workspace: a cargo project under target/ would be taken for a workspace member.
# The training notebook runs the seconds-long smoke profile unless told otherwise.
export LAB_PROFILE="${LAB_PROFILE:-smoke}"
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-lab/evcxr}"
mkdir -p "$EVCXR_TMPDIR" target/notebooks
out=(--output-dir target/notebooks)
[ "${1:-}" = "--inplace" ] && out=(--inplace)
status=0
# The lecture's notebooks, then tests/notebooks/ (the crate imported from a notebook elsewhere).
for nb in ${NOTEBOOKS:-notebooks/[0-9]*.ipynb tests/notebooks/*.ipynb}; do
  start=$(date +%s)
  if "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=rust \
      --ExecutePreprocessor.timeout=1800 "${out[@]}" "$nb"; then
    done_nb="target/notebooks/$(basename "$nb")"
    [ "${1:-}" = "--inplace" ] && done_nb="$nb"
    if python3 notebooks/check_outputs.py "$done_nb"; then
      echo "ok   $nb ($(( $(date +%s) - start )) s)"
    else
      status=1
    fi
  else
    echo "FAIL $nb: a cell failed (see above)"; status=1
  fi
done
exit $status
