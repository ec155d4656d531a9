#!/usr/bin/env bash
# Executes every notebook headlessly with nbconvert and fails on any cell error or panic.
#   bash notebooks/run_all.sh            # CI: small knobs, executed copies go to target/notebooks/
#   bash notebooks/run_all.sh --inplace  # the committed outputs: the cells' own knobs, in place
# Knobs: each notebook states its run in its cells (`knob("ALEXNET_LAB_PROFILE", "cpu-full")`); an
# environment variable of the same name overrides one, and the cell prints that it did. Without
# --inplace this script makes them small (ALEXNET_LAB_PROFILE=smoke, ALEXNET_LAB_ASPECT_N=1000: minutes, not the
# half hour of training cpu-full); with --inplace nothing is overridden, as in a learner's Run
# All, and notebook 05 trains cpu-full in the kernel unless runs/notebook-cpu-full holds it
# (README: the cpu-full command), and the outputs must pass check_outputs.py --committed.
# Dependencies compile once per run: all notebooks share one EVCXR_TMPDIR (one at a time, same
# :dep lines and :opt level).
set -euo pipefail
cd "$(dirname "$0")/.."
bash notebooks/setup.sh
JUPYTER=jupyter
[ -x .venv/bin/jupyter ] && JUPYTER=.venv/bin/jupyter
# Outside the workspace: a cargo project under target/ would be taken for a workspace member.
INPLACE=0
[ "${1:-}" = "--inplace" ] && INPLACE=1
if [ $INPLACE = 0 ]; then
  export ALEXNET_LAB_PROFILE="${ALEXNET_LAB_PROFILE:-smoke}"
  export ALEXNET_LAB_ASPECT_N="${ALEXNET_LAB_ASPECT_N:-1000}"
  # Notebook 07's experiments at a few hundred images and 2 epochs (its outputs then say nothing
  # about the answers; the committed ones come from docs/results/exercises/).
  export ALEXNET_LAB_EX1_EPOCHS="${ALEXNET_LAB_EX1_EPOCHS:-2}" ALEXNET_LAB_EX2_LIMIT="${ALEXNET_LAB_EX2_LIMIT:-512}"
  export ALEXNET_LAB_EX3_LIMIT="${ALEXNET_LAB_EX3_LIMIT:-256}" ALEXNET_LAB_EX3_EPOCHS="${ALEXNET_LAB_EX3_EPOCHS:-1}"
  export ALEXNET_LAB_EX5_EPOCHS="${ALEXNET_LAB_EX5_EPOCHS:-2}" ALEXNET_LAB_EX6_LIMIT="${ALEXNET_LAB_EX6_LIMIT:-64}"
  export ALEXNET_LAB_EX6_EPOCHS="${ALEXNET_LAB_EX6_EPOCHS:-2}" ALEXNET_LAB_EX6_TEST="${ALEXNET_LAB_EX6_TEST:-64}"
fi
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-lab/evcxr}"
mkdir -p "$EVCXR_TMPDIR" target/notebooks
out=(--output-dir target/notebooks)
check=()
timeout=1800
# In place, notebook 05 may train cpu-full in one cell (half an hour or more on 2 cores).
[ $INPLACE = 1 ] && out=(--inplace) && check=(--committed) && timeout=14400
status=0
# The lecture's notebooks, then tests/notebooks/ (the crate imported from a notebook elsewhere).
for nb in ${NOTEBOOKS:-notebooks/[0-9]*.ipynb tests/notebooks/*.ipynb}; do
  start=$(date +%s)
  if "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=rust \
      --ExecutePreprocessor.timeout=$timeout "${out[@]}" "$nb"; then
    done_nb="target/notebooks/$(basename "$nb")"
    [ $INPLACE = 1 ] && done_nb="$nb"
    if python3 notebooks/check_outputs.py "${check[@]}" "$done_nb"; then
      echo "ok   $nb ($(( $(date +%s) - start )) s)"
    else
      status=1
    fi
  else
    echo "FAIL $nb: a cell failed (see above)"; status=1
  fi
done
exit $status
