#!/usr/bin/env python3
"""Where a training step's time goes, by the lab's op and by what the CPU was doing in it.

    perf record -F 299 --call-graph dwarf,16384 -o perf.data \
        target/release/alexnet-lab bench --mode train --batch-size 64 --image-size 96 --repeats 4
    perf script -i perf.data > perf.txt
    python3 docs/perf/profile_by_op.py perf.txt

Each sample is charged to the innermost frame of the lab's kernels (or candle's) on its call
stack, and classified by its leaf: gemm's microkernel, gemm's packing, memset/memmove, the
operating system, or other code (the lab's own loops: im2col, col2im, copies, pool windows).
Samples whose stack shows neither (gemm's own rayon jobs stolen by another thread, rayon idle
loops) are "unattributed". A benchmark aid, not a test.
"""
import collections, sys

# Closures show as `{impl#N}`, numbered in the order of conv.rs's impl blocks: #1 Conv2dOp,
# #3 ConvGradWeight's CustomOp2, #4 ConvGradInput's (rename here if that order changes).
OPS = [("winograd::grad_input", "conv input gradient"), ("winograd::grad_weight", "conv weight gradient"),
       ("winograd::forward", "conv forward"), ("winograd::", "conv (winograd, other)"),
       ("grad_weight", "conv weight gradient"), ("grad_input", "conv input gradient"),
       ("conv::{impl#3}::cpu_fwd", "conv weight gradient"), ("conv::{impl#4}::cpu_fwd", "conv input gradient"),
       ("conv::{impl#1}::fwd", "conv forward"),
       ("ConvGradWeight", "conv weight gradient"), ("ConvGradInput", "conv input gradient"),
       ("fwd_images", "conv forward"), ("Conv2dOp", "conv forward"), ("kernels::conv", "conv (other)"),
       ("kernels::linear", "linear"), ("kernels::pool", "max-pool"), ("ReluMask", "ReLU mask"),
       ("SumToChannels", "bias sums"), ("kernels::sgd", "SGD update"), ("dropout", "dropout"),
       ("backprop", "candle autograd"), ("candle_nn", "candle_nn"), ("candle_core", "candle (other)")]
LEAVES = ["gemm microkernel", "gemm packing", "memset/memmove", "operating system", "other"]


def leaf_kind(leaf):
    if "microkernel" in leaf:
        return "gemm microkernel"
    if "gemm" in leaf:
        return "gemm packing"
    if "memset" in leaf or "memmove" in leaf or "memcpy" in leaf:
        return "memset/memmove"
    if "[kernel.kallsyms]" in leaf:
        return "operating system"
    return "other"


def op_of(frames):
    """The lab's (or candle's) op a sample's call stack is in, innermost first; "unattributed"."""
    for f in frames:
        hit = next((name for key, name in OPS if key in f and ("alexnet_lab" in f or "candle" in f)), None)
        if hit:
            if hit == "conv (other)":  # im2col & co. are inlined below the op's own frame: look further up
                hit = next((name for g in frames for key, name in OPS[:9] if key in g), hit)
            return hit
    return "unattributed"


def main(path):
    by = collections.Counter()
    ops = collections.Counter()
    total = 0
    for sample in open(path, errors="replace").read().split("\n\n"):
        frames = [l.strip() for l in sample.strip().split("\n")[1:] if l.strip()]
        if not frames:
            continue
        total += 1
        op = op_of(frames)
        kind = leaf_kind(frames[0])
        by[(op, kind)] += 1
        ops[op] += 1
    print(f"{total} samples")
    print(f"{'op':<24}{'share':>7}  " + "  ".join(f"{k:>16}" for k in LEAVES))
    for op, n in ops.most_common():
        cells = "  ".join(f"{100 * by[(op, k)] / total:>15.1f}%" for k in LEAVES)
        print(f"{op:<24}{100 * n / total:>6.1f}%  {cells}")
    cells = "  ".join(f"{100 * sum(by[(o, k)] for o in ops) / total:>15.1f}%" for k in LEAVES)
    print(f"{'all':<24}{100.0:>6.1f}%  {cells}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
