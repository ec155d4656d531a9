#!/usr/bin/env bash
# The lecture's run on a GPU machine (issue: d2l profile on an H100/H200), in one call.
#
# Prepared on the GPU-less dev machine:
#   bash ../shared/tools/cuda/build-gpu-binary.sh . --bin alexnet-lab --features cuda
#   xz -k -T2 gpu-dist/alexnet-lab                     # ~6 MB
#   mkdir -p gpu-data && cp -rL ../shared/data/hf gpu-data/   # the hub cache, 34 MB
# Carried to the GPU machine: gpu-dist/alexnet-lab.xz and gpu-data/ (both git-ignored).
# There (driver 580, CUDA 13 libraries from PyTorch's wheels under /opt/torch/.venv):
#   OUT=$OUT bash docs/gpu/run_d2l.sh [epochs]
# Knobs: BIN (default gpu-dist/alexnet-lab), DEVICE (default cuda:0), LIMIT / TEST_LIMIT (subsets,
# for a dry run). The CPU dry run of exactly this script on the dev machine:
#   BIN=target/release/alexnet-lab DEVICE=cpu LIMIT=256 TEST_LIMIT=256 OUT=/tmp/dry \
#     bash docs/gpu/run_d2l.sh 1
# It writes nvidia-smi, the training log, metrics.csv, curve.csv, curve.svg, checkpoint.json
# and the benchmark lines under $OUT (not the 187 MB checkpoint).
set -euo pipefail
OUT="${OUT:-/tmp/alexnet-gpu}"
EPOCHS="${1:-10}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."

# CUDA 13 runtime libraries from PyTorch's wheels; libcuda.so.1 comes from the driver.
SP=$(ls -d /opt/torch/.venv/lib/python3*/site-packages 2>/dev/null | head -1 || true)
if [ -n "$SP" ]; then
  LIBS="$SP/nvidia/cu13/lib"
  [ -d "$SP/nvidia/cudnn/lib" ] && LIBS="$LIBS:$SP/nvidia/cudnn/lib"
  export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

BIN="${BIN:-gpu-dist/alexnet-lab}"
DEVICE="${DEVICE:-cuda:0}"
[ -x "$BIN" ] || { xz -dkf "$BIN.xz"; chmod +x "$BIN"; }
if [ -d gpu-data/hf ]; then export HF_HOME="$PWD/gpu-data/hf"; fi
export HF_HUB_OFFLINE=1
SUBSET=()
[ -n "${LIMIT:-}" ] && SUBSET+=(--limit "$LIMIT")
[ -n "${TEST_LIMIT:-}" ] && SUBSET+=(--test-limit "$TEST_LIMIT")

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$OUT/nvidia-smi.txt" 2>&1 || true
ldd "$BIN" | grep -E 'not found|cuda|cublas|curand|nvrtc|cudnn' > "$OUT/ldd.txt" || true
git rev-parse HEAD > "$OUT/commit.txt" 2>/dev/null || true
date -u +%FT%TZ > "$OUT/date.txt"

# 1. The lecture's training run: d2l profile (224x224, batch 128, lr 0.01, 10 epochs).
"$BIN" train --profile d2l --device "$DEVICE" --epochs "$EPOCHS" "${SUBSET[@]}" --out "$OUT/run" --quiet 2>&1 | tee "$OUT/train.log"
rm -f "$OUT"/run/*.safetensors  # weights stay on the card's machine; metrics and curve come back

# 2. Training-step benchmark at batch 128 on the same card.
"$BIN" bench --mode train --batch-size 128 --image-size 224 --device "$DEVICE" --repeats "${REPEATS:-10}" 2>&1 | tee "$OUT/bench.log"

# 3. PyTorch's same network on the same card, for the ratio (if PyTorch is there).
if [ -n "$SP" ] && [ -x /opt/torch/.venv/bin/python ]; then
  /opt/torch/.venv/bin/python docs/perf/pytorch_alexnet.py --device "${DEVICE%%:*}" --mode train --batch-size 128 \
    --image-size 224 --repeats "${REPEATS:-10}" 2>&1 | tee "$OUT/pytorch_bench.log" || true
fi
