//! Each of AlexNet's convolutions, forward and backward, timed with the lab's kernels
//! (`lab`: Winograd where its cost model says it pays) and with every convolution direct
//! (`direct`: im2col + GEMM) or, with `winograd` as the fourth argument, with Winograd wherever
//! a tile fits (the other side of the cost model's choice), interleaved round after round on
//! the same machine; medians. Beside them the machine's GEMM
//! speed (a 2048³ f32 product through candle's `matmul`, i.e. the `gemm` crate every
//! convolution here ends in), and each layer's direct-equivalent speed (its `2·MAC` over the
//! time, forward plus both gradients). A benchmark, not a test.
//!
//!     cargo run --release --example conv_layers -- [image size, 80] [batch, 64] [rounds, 5] [direct|winograd]

use std::time::Instant;

use alexnet_lab::candle::{DType, Device, Tensor, Var};
use alexnet_lab::kernels::{conv::conv2d_relu, Kernels};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let other = match args.get(3).map(String::as_str) {
        None | Some("direct") => Kernels::Direct,
        Some("winograd") => Kernels::Winograd,
        Some(x) => anyhow::bail!("the fourth argument is `direct` or `winograd`, got {x:?}"),
    };
    args.truncate(3);
    let args: Vec<usize> = args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?;
    let size = args.first().copied().unwrap_or(80);
    let n = args.get(1).copied().unwrap_or(64);
    let rounds = args.get(2).copied().unwrap_or(5);
    // As the `alexnet-lab` binary does: freed memory stays with the process, so the next
    // step's buffers are not fresh (zero-filled, page-faulted) pages.
    alexnet_lab::sys::malloc::keep_freed_memory();
    // d2l's AlexNet: (in channels, out channels, kernel, stride, padding); a 3/2 max-pool
    // follows conv1, conv2 and conv5.
    let layers = [(1, 96, 11, 4, 1), (96, 256, 5, 1, 2), (256, 384, 3, 1, 1), (384, 384, 3, 1, 1), (384, 256, 3, 1, 1)];
    let a = Tensor::rand(0f32, 1., (2048, 2048), &Device::Cpu)?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        let _ = a.matmul(&a)?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let peak = 2.0 * 2048f64.powi(3) / best / 1e9;
    println!("GEMM: 2048x2048x2048 f32 (candle matmul), best of 5: {peak:.0} GFLOP/s on {} threads", rayon::current_num_threads());
    let mut h = size;
    println!("AlexNet convolutions at {size}x{size}, batch {n}, {rounds} interleaved rounds, medians (ms)");
    println!(
        "{:6} {:>12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "layer",
        "input",
        "GMAC",
        "lab fwd",
        "lab bwd",
        format!("{other} fwd"),
        format!("{other} bwd"),
        "speedup",
        "lab GF/s",
        format!("{other} GF/s")
    );
    let (mut lab_total, mut other_total) = (0.0, 0.0);
    for (i, &(c, o, k, s, p)) in layers.iter().enumerate() {
        let oh = (h + 2 * p - k) / s + 1;
        // The image (conv1's input) gets no gradient in training; the others' inputs do.
        let x = Tensor::rand(0f32, 1., (n, c, h, h), &Device::Cpu)?;
        let x = if i == 0 { x } else { Var::from_tensor(&x)?.as_tensor().clone() };
        let w = Var::from_tensor(&(Tensor::randn(0f32, 1., (o, c, k, k), &Device::Cpu)? * (2.0 / (c * k * k) as f64).sqrt())?)?;
        let b = Var::from_tensor(&Tensor::zeros(o, DType::F32, &Device::Cpu)?)?;
        let r = Tensor::randn(0f32, 1., (n, o, oh, oh), &Device::Cpu)?;
        let step = |kernels| -> anyhow::Result<(f64, f64)> {
            let t0 = Instant::now();
            let y = conv2d_relu(&x, w.as_tensor(), Some(b.as_tensor()), s, p, kernels)?;
            let t1 = Instant::now();
            let _grads = y.mul(&r)?.sum_all()?.backward()?;
            Ok((t1.duration_since(t0).as_secs_f64() * 1e3, t1.elapsed().as_secs_f64() * 1e3))
        };
        let mut times = vec![vec![]; 4];
        for round in 0..=rounds {
            for (j, kernels) in [Kernels::Lab, other].into_iter().enumerate() {
                let (f, bw) = step(kernels)?;
                if round > 0 {
                    // round 0 warms up
                    times[2 * j].push(f);
                    times[2 * j + 1].push(bw);
                }
            }
        }
        let med: Vec<f64> = times.iter_mut().map(|v| { v.sort_by(f64::total_cmp); v[v.len() / 2] }).collect();
        let macs = (n * o * oh * oh * c * k * k) as f64 / 1e9;
        let speedup = (med[2] + med[3]) / (med[0] + med[1]);
        lab_total += med[0] + med[1];
        other_total += med[2] + med[3];
        // forward + weight gradient (+ input gradient but for conv1, whose input is the image)
        let passes = if i == 0 { 2.0 } else { 3.0 };
        let gflops = |ms: f64| 2.0 * macs * passes / (ms / 1e3);
        println!(
            "conv{} {:>12} {:>8.2} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7.2}x {:>10.0} {:>10.0}",
            i + 1,
            format!("{c}x{h}x{h}"),
            macs,
            med[0],
            med[1],
            med[2],
            med[3],
            speedup,
            gflops(med[0] + med[1]),
            gflops(med[2] + med[3])
        );
        h = if [0, 1].contains(&i) { (oh - 3) / 2 + 1 } else { oh };
    }
    println!("all    {:>12} {:>8} {:>21.1} {:>21.1} {:>7.2}x", "", "", lab_total, other_total, other_total / lab_total);
    println!("(bwd: the op's backward and candle's for the benchmark's loss, sum(y * r); GF/s: 2·MAC of the passes over their time)");
    Ok(())
}
