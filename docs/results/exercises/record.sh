#!/usr/bin/env bash
# Trains notebook 07's recorded runs (the chapter's exercises at their recorded sizes), one
# `alexnet-lab exercises NAME` each under /usr/bin/time -v, and copies into
# docs/results/exercises/NAME/ what the notebook and the docs read: checkpoint.json (recipe,
# history, commit), metrics.csv, curve.csv, curve.svg, the log, time.txt and machine.txt.
# A finished run in runs/exercises/NAME is loaded, not trained again.
#   bash docs/results/exercises/record.sh                 # all of them (~1 hour on 2 cores)
#   bash docs/results/exercises/record.sh lenet-30-epochs # one
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-target/release/alexnet-lab}
# The runs' labels name the commit the binary was built from: commit first, then build.
if ! git diff --quiet HEAD -- alexnet_lab; then
  echo "error: alexnet_lab/ has uncommitted changes: commit them, so that the runs name the commit that trained them" >&2
  exit 1
fi
cargo build --release
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <("$BIN" exercises --list | awk '{print $1}')
for n in "${names[@]}"; do
  d=docs/results/exercises/$n
  mkdir -p "$d"
  {
    echo "command: $BIN exercises $n"
    echo "commit: $(git rev-parse --short=12 HEAD)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512')"
  } > "$d/machine.txt"
  /usr/bin/time -v -o "$d/time.txt" "$BIN" exercises "$n" > "$d/train.log" 2>&1
  cp runs/exercises/"$n"/{checkpoint.json,metrics.csv,curve.csv,curve.svg} "$d/"
  tail -1 "$d/train.log"
done
