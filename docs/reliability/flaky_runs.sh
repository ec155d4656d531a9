#!/usr/bin/env bash
# The flakiness check of docs/reliability.md: the whole Rust test suite N times in a row, each run's
# log kept, one summary line per run. Run it in a worktree of the commit to check (the suite must
# not rebuild in the middle), with nothing else running unless the condition asks for it.
#   bash docs/reliability/flaky_runs.sh plain 10
#   bash docs/reliability/flaky_runs.sh onecore 10 taskset -c 0
#   taskset -c 1 sh -c 'while :; do :; done' & bash docs/reliability/flaky_runs.sh loaded 10; kill %1
# Logs and summary.txt go to $LOGS (default /tmp/flaky-logs).
set -u
label=$1; n=$2; shift 2
cd "$(dirname "$0")/../.."
LOGS="${LOGS:-/tmp/flaky-logs}"
mkdir -p "$LOGS"
[ -d ../shared/data/hf ] && export HF_HOME="$(cd ../shared/data/hf && pwd)" HF_HUB_OFFLINE=1
[ -d ../shared/data/fashion-mnist ] && export FASHION_MNIST_DIR="$(cd ../shared/data/fashion-mnist && pwd)"
cargo test --release --workspace --no-run -q 2>/dev/null
for i in $(seq 1 "$n"); do
  s=$(date +%s)
  "$@" cargo test --release --workspace --no-fail-fast > "$LOGS/$label-$i.log" 2>&1
  rc=$?
  ok=$(grep -c "^test result: ok" "$LOGS/$label-$i.log")
  failed=$(grep -c "^test result: FAILED" "$LOGS/$label-$i.log")
  echo "$label run $i: rc=$rc binaries_ok=$ok binaries_failed=$failed $(( $(date +%s) - s )) s $(git rev-parse --short HEAD) $(date +%H:%M:%S)" | tee -a "$LOGS/summary.txt"
done
