#!/usr/bin/env bash
# The lecture's run on a GPU machine, in one call of at most BUDGET seconds (default 520).
#
# Prepared on the GPU-less dev machine (docs/gpu/README.md):
#   WITH_CUDNN=1 CARGO_TARGET_DIR=../target-cuda bash build-gpu-binary.sh . --bin alexnet-lab --features cuda
#   xz -k -T2 gpu-dist/alexnet-lab
#   gpu-data/hf: the hub cache's `main` snapshot of zalando-datasets/fashion_mnist (33 MB)
# Carried to the GPU machine: gpu-dist/alexnet-lab.xz and gpu-data/ (both git-ignored).
# There (driver 580, CUDA 13 libraries from PyTorch's wheels under /opt/torch/.venv):
#   OUT=$OUT bash docs/gpu/run_d2l.sh
# In order, each under its own share of the budget:
#   0. `alexnet-lab gpu-check`: every op of the lab's CUDA path (cuDNN convolutions, max-pool,
#      dropout mask), forward and backward, against the CPU ops, under TF32 (the default) and FP32
#      math; a failure is logged and the rest still runs (its numbers then say so);
#   1. nvidia-smi; the training-step benchmark at batch 128, 224x224, interleaved in ROUNDS rounds:
#      the lab, PyTorch with its defaults, PyTorch with NVIDIA_TF32_OVERRIDE=0 (no TF32) and with
#      cuDNN off (torch.backends.cudnn.enabled = False): what each of PyTorch's choices is worth;
#      then the lab with FP32 math and with the fastest (non-deterministic) cuDNN algorithms;
#   2. notebook 06(a)'s batch-size sweep (`alexnet-lab memory`) up past the first batch size
#      that fails, with the error as candle gives it;
#   3. the d2l profile (224x224, batch 128, lr 0.01, all data): as many of its 10 epochs as the
#      benchmark's pace says fit in what is left, stopped with SIGINT at a step boundary if the
#      estimate was wrong (the run folder keeps every finished epoch).
set -uo pipefail
OUT="${OUT:-/tmp/alexnet-gpu}"
BUDGET="${BUDGET:-520}"
MAX_EPOCHS="${EPOCHS:-10}"
SIZES="${SIZES:-1024,8192,16384,32768,65536}"
R="${WORK:-/tmp/gpu-results}"  # packed into $OUT at the end
rm -rf "$R"; mkdir -p "$R" "$OUT"
cd "$(dirname "$0")/../.."
left() { echo $((BUDGET - SECONDS)); }
pack() { tar -czf "$OUT/gpu-results.tar.gz" -C "$R" . && cp "$R/train.log" "$OUT/" 2>/dev/null; true; }
trap pack EXIT

# CUDA 13 runtime libraries from PyTorch's wheels; libcuda.so.1 comes from the driver.
SP=$(ls -d /opt/torch/.venv/lib/python3*/site-packages 2>/dev/null | head -1 || true)
if [ -n "$SP" ]; then
  LIBS="$SP/nvidia/cu13/lib"
  [ -d "$SP/nvidia/cudnn/lib" ] && LIBS="$LIBS:$SP/nvidia/cudnn/lib"
  export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
PY=/opt/torch/.venv/bin/python
[ -x "$PY" ] || PY="$(command -v python3)"

BIN="${BIN:-gpu-dist/alexnet-lab}"
DEVICE="${DEVICE:-cuda:0}"
[ -x "$BIN" ] || { xz -dkf "$BIN.xz" && chmod +x "$BIN"; }
if [ -d gpu-data/hf ]; then export HF_HOME="$PWD/gpu-data/hf"; fi
export HF_HUB_OFFLINE=1
SUBSET=()
[ -n "${LIMIT:-}" ] && SUBSET+=(--limit "$LIMIT")
[ -n "${TEST_LIMIT:-}" ] && SUBSET+=(--test-limit "$TEST_LIMIT")

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$R/nvidia-smi.txt" 2>&1
ldd "$BIN" > "$R/ldd.txt" 2>&1
git rev-parse HEAD > "$R/commit.txt" 2>/dev/null
{ date -u +%FT%TZ; nproc; } > "$R/date.txt"
echo "[$SECONDS s] start"

# 0. Every op of the CUDA path against the CPU's, under both math modes.
if [ "${DEVICE%%:*}" = cuda ]; then
  timeout 90 "$BIN" gpu-check --device "$DEVICE" 2>&1 | tee "$R/gpu-check.log"
  ALEXNET_LAB_CUDA_MATH=fp32 timeout 90 "$BIN" gpu-check --device "$DEVICE" 2>&1 | tee "$R/gpu-check-fp32.log"
  echo "[$SECONDS s] gpu-check done (exit ${PIPESTATUS[0]})"
fi

# 1. The training step at batch 128, 224x224, interleaved: the lab, then PyTorch three ways.
bench_lab() { timeout 90 "$BIN" bench --mode train --batch-size 128 --image-size 224 --device "$DEVICE" --repeats "${REPEATS:-10}"; }
bench_torch() { timeout 60 "$PY" docs/perf/pytorch_alexnet.py --device "${DEVICE%%:*}" --mode train --batch-size 128 \
  --image-size 224 --repeats "${REPEATS:-10}" "$@"; }
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "== round $round" | tee -a "$R/bench.log" "$R/pytorch_bench.log"
  bench_lab 2>&1 | tee -a "$R/bench.log"
  bench_torch 2>&1 | tee -a "$R/pytorch_bench.log"
  NVIDIA_TF32_OVERRIDE=0 bench_torch 2>&1 | sed 's/^/[NVIDIA_TF32_OVERRIDE=0] /' | tee -a "$R/pytorch_bench.log"
  bench_torch --no-cudnn 2>&1 | sed 's/^/[no cuDNN] /' | tee -a "$R/pytorch_bench.log"
done
if [ "${DEVICE%%:*}" = cuda ]; then
  ALEXNET_LAB_CUDA_MATH=fp32 bench_lab 2>&1 | sed 's/^/[lab, FP32 math] /' | tee -a "$R/bench.log"
  ALEXNET_LAB_CUDNN_ALGOS=fastest bench_lab 2>&1 | sed 's/^/[lab, fastest algorithms] /' | tee -a "$R/bench.log"
fi
echo "[$SECONDS s] benchmarks done"

# 2. Batch size vs memory, up past the first failure.
timeout 110 "$BIN" memory --image-size 224 --batch-sizes "$SIZES" --steps 1 --device "$DEVICE" \
  --plot "$R/memory.svg" 2>&1 | tee "$R/memory.log"
echo "[$SECONDS s] memory sweep done (exit ${PIPESTATUS[0]})"

# 3. The d2l profile: the epochs that fit in what is left (train + evaluation ~ 1.15 x train).
IPS=$(grep -v '^\[' "$R/bench.log" | sed -n 's/.*: \([0-9.]*\) img\/s.*/\1/p' | head -1)
TRAIN_S=$(( $(left) - 25 ))
N=60000; [ -n "${LIMIT:-}" ] && N=$LIMIT
EPOCHS=$("$PY" -c "import sys; ips=float(sys.argv[1] or 0); n=int(sys.argv[3]); print(max(1, min(int(sys.argv[4]), int(float(sys.argv[2]) / (1.15 * n / ips + 8)))) if ips > 0 else 1)" "${IPS:-0}" "$TRAIN_S" "$N" "$MAX_EPOCHS")
echo "[$SECONDS s] training: ${IPS:-?} img/s in the benchmark, $TRAIN_S s left: $EPOCHS epochs" | tee "$R/plan.txt"
timeout -s INT -k 20 "$TRAIN_S" "$BIN" train --profile d2l --device "$DEVICE" --epochs "$EPOCHS" "${SUBSET[@]}" \
  --out "$R/run" --quiet 2>&1 | tee "$R/train.log"
echo "[$SECONDS s] training exit ${PIPESTATUS[0]}" | tee -a "$R/plan.txt"
rm -f "$R"/run/*.safetensors  # the weights (187 MB) stay there; metrics and curve come back
