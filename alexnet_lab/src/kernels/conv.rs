//! GEMM-based 2-D convolution for the CPU, forward and backward.
//!
//! candle 0.11 computes a convolution's input gradient with `conv_transpose2d`, a direct loop
//! without GEMM, and its weight gradient with a dilated convolution over batch/channel-swapped
//! tensors (single-threaded for AlexNet's conv1): together most of a training step. Here each
//! image is unrolled into columns (`im2col`, `c·k·k x oh·ow`), and GEMM does the forward
//! (W · cols), the weight gradient (grad · colsᵀ) and the input gradient (Wᵀ · grad, folded
//! back by `col2im`). An input that needs no gradient (the image) gets none.
//!
//! The columns are built image by image into one reused buffer: the whole batch's columns
//! would be `c·k·k` times the input (830 MB for conv2 at batch 128), which is where the memory
//! of a plain im2col convolution goes. Bias and ReLU run inside the op, sparing two
//! output-sized tensors per layer and candle's zero-fill + add of their gradients.
//!
//! A batch of at least 4 images per thread is shared out: each rayon thread takes a contiguous
//! range of the images and works through it alone (its own column buffer, single-threaded
//! GEMMs, its own weight-gradient sum, added up at the end), so a layer hands work between
//! threads once instead of in every im2col, GEMM and copy ([`shares`]). Smaller batches (a
//! prediction, the tests' shapes) share every loop and GEMM between all threads instead.
//!
//! Stride-1 layers with at least 16 channels in and out (AlexNet's conv2-5) go through
//! [`super::winograd`] instead where its cost model says it pays (everywhere with
//! [`Kernels::Winograd`], nowhere with [`Kernels::Direct`]); the op keeps that path's
//! transformed tiles from its forward for its backward.
//!
//! Self-contained (with `cpu_ops`) so it can be offered upstream to candle.

// Indexing in this file's hot loops is in bounds by construction: every op checks its
// operands' shapes against the geometry (`check_dims`, `Geom::new`, `dims4`) before any loop
// runs, and the loops' ranges are products of those checked dimensions. Bounds-checked `get`s
// in the per-element loops would cost speed for nothing; a bug here fails a test in
// tests/conv.rs, tests/pool.rs or tests/linear.rs (they compare against candle's own ops).
#![allow(clippy::indexing_slicing)]

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use std::any::Any;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::sink::GradSink;
use super::winograd::{self, Conv};
use super::Kernels;
use super::cpu::{
    bias_or_zeros, check_dims, contiguous, float_pair, float_triple, for_chunks_mut, matmul_on, relu_in_place, transpose,
    ReluMask, SumToChannels, Threads,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    /// The implementation chosen for this convolution (Winograd's transforms or not).
    kernels: Kernels,
}

impl Geom {
    #[allow(clippy::too_many_arguments)]
    fn new(n: usize, c: usize, h: usize, w: usize, k: usize, stride: usize, pad: usize, kernels: Kernels) -> Result<Self> {
        if k == 0 || stride == 0 || c == 0 {
            candle_core::bail!("conv2d: kernel ({k}), stride ({stride}) and input channels ({c}) must be >= 1");
        }
        if h == 0 || w == 0 {
            candle_core::bail!("conv2d: the input is {h}x{w}; it needs at least one pixel");
        }
        if h + 2 * pad < k || w + 2 * pad < k {
            candle_core::bail!("conv2d: padded input {}x{} is smaller than the {k}x{k} kernel", h + 2 * pad, w + 2 * pad);
        }
        let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
        Ok(Self { n, c, h, w, k, stride, pad, oh, ow, kernels })
    }

    /// This convolution for Winograd's transforms, when it has stride 1 and the lab's kernels
    /// may use them ([`Kernels::Lab`], or [`Kernels::Winograd`] wherever a tile fits).
    fn winograd(&self, o: usize) -> Option<Conv> {
        let Geom { n, c, h, w, k, stride, pad, kernels, .. } = *self;
        let always = match kernels {
            Kernels::Lab => false,
            Kernels::Winograd => true,
            Kernels::Direct | Kernels::Candle => return None,
        };
        (stride == 1).then(|| Conv { always, ..Conv::new(n, c, h, w, o, k, pad) })
    }

    /// Rows of one image's columns: `c * k * k`.
    fn kk(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output positions of one image: `oh * ow`.
    fn l(&self) -> usize {
        self.oh * self.ow
    }

    fn image(&self) -> usize {
        self.c * self.h * self.w
    }

    /// For output row `oy` and kernel row `ky`, the input row (None in the padding).
    #[inline]
    fn src_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let i = (oy * self.stride + ky).checked_sub(self.pad)?;
        (i < self.h).then_some(i)
    }

    /// For kernel column `kx`, the output columns `lo..hi` whose input column
    /// `ox * stride + kx - pad` is inside the image (possibly empty).
    #[inline]
    fn cols_inside(&self, kx: usize) -> (usize, usize) {
        let first = self.pad.saturating_sub(kx).div_ceil(self.stride);
        let end = (self.w + self.pad).saturating_sub(kx).div_ceil(self.stride);
        let hi = end.min(self.ow);
        (first.min(hi), hi)
    }

    /// How many of `n` images share one GEMM: enough output positions (`m·l ≥ 512`) that the
    /// product is not a thin one (AlexNet's conv3-5 have 144 positions at 224x224, 16 at
    /// 96x96), while the group's columns stay under 32 MB.
    fn group(&self, n: usize) -> usize {
        let by_width = 512usize.div_ceil(self.l().max(1));
        let by_memory = ((32 << 20) / 4 / (self.kk() * self.l()).max(1)).max(1);
        by_width.min(by_memory).clamp(1, n.max(1))
    }

    /// `m` images `(m, c, h, w)` -> their columns `(c·k·k, m·oh·ow)`: row `(ci, ky, kx)` holds,
    /// image after image, the input pixel each output position sees through that kernel tap
    /// (0 in the padding). Every entry is written, so the buffer can be reused.
    fn im2col<T: WithDType + Send + Sync>(&self, imgs: &[T], m: usize, cols: &mut [T], threads: Threads) {
        let (k, l, ow) = (self.k, self.l(), self.ow);
        for_chunks_mut(threads, cols, m * l, |(r, row)| {
            let (ci, ky, kx) = (r / (k * k), r / k % k, r % k);
            let (lo, hi) = self.cols_inside(kx);
            for (img, seg) in imgs.chunks(self.image()).zip(row.chunks_mut(l)) {
                let plane = &img[ci * self.h * self.w..(ci + 1) * self.h * self.w];
                for (oy, run) in seg.chunks_mut(ow).enumerate() {
                    let Some(iy) = self.src_row(oy, ky) else {
                        run.fill(T::zero());
                        continue;
                    };
                    let src = &plane[iy * self.w..(iy + 1) * self.w];
                    run[..lo].fill(T::zero());
                    run[hi..].fill(T::zero());
                    if lo == hi {
                        continue;
                    }
                    let x0 = lo * self.stride + kx - self.pad;
                    if self.stride == 1 {
                        run[lo..hi].copy_from_slice(&src[x0..x0 + hi - lo]);
                    } else {
                        for (j, v) in run[lo..hi].iter_mut().enumerate() {
                            *v = src[x0 + j * self.stride];
                        }
                    }
                }
            }
        });
    }

    /// im2col's adjoint: overwrites `m` images `(m, c, h, w)` with the sums of `cols`' entries
    /// over every tap that saw each pixel. Parallel over planes (each has one writer).
    fn col2im<T: WithDType + Send + Sync>(&self, cols: &[T], m: usize, imgs: &mut [T], threads: Threads) {
        let (k, l, ow) = (self.k, self.l(), self.ow);
        for_chunks_mut(threads, imgs, self.h * self.w, |(p, plane)| {
            let (b, ci) = (p / self.c, p % self.c);
            plane.fill(T::zero());
            for ky in 0..k {
                for kx in 0..k {
                    let (lo, hi) = self.cols_inside(kx);
                    if lo == hi {
                        continue;
                    }
                    let r = (ci * k + ky) * k + kx;
                    let seg = &cols[r * m * l + b * l..r * m * l + (b + 1) * l];
                    let x0 = lo * self.stride + kx - self.pad;
                    for (oy, run) in seg.chunks(ow).enumerate() {
                        let Some(iy) = self.src_row(oy, ky) else { continue };
                        let dst = &mut plane[iy * self.w..(iy + 1) * self.w];
                        if self.stride == 1 {
                            for (d, &v) in dst[x0..x0 + hi - lo].iter_mut().zip(&run[lo..hi]) {
                                *d += v;
                            }
                        } else {
                            for (j, &v) in run[lo..hi].iter().enumerate() {
                                dst[x0 + j * self.stride] += v;
                            }
                        }
                    }
                }
            }
        });
    }
}

/// `(m, o, l)` -> `(o, m·l)`: a group's output gradients side by side, as the GEMMs read them.
fn gather_channels<T: WithDType + Send + Sync>(grad: &[T], m: usize, o: usize, l: usize, out: &mut [T], threads: Threads) {
    for_chunks_mut(threads, out, m * l, |(oc, row)| {
        for (b, seg) in row.chunks_mut(l).enumerate() {
            seg.copy_from_slice(&grad[(b * o + oc) * l..(b * o + oc + 1) * l]);
        }
    });
}

/// How a batch of `n` images is shared out: one contiguous range of images per rayon thread,
/// each worked through by its thread alone (its own column buffer, single-threaded loops and
/// GEMMs: no hand-offs between threads inside a layer), when there are at least 4 images per
/// thread; else one range, with every loop and GEMM shared by all threads.
fn shares(n: usize) -> (Threads, Vec<Range<usize>>) {
    let t = rayon::current_num_threads();
    if t > 1 && n >= 4 * t {
        (Threads::One, (0..t).map(|i| i * n / t..(i + 1) * n / t).collect())
    } else {
        (Threads::All, std::iter::once(0..n).collect())
    }
}

/// `v`, `per` elements per image, cut into one mutable piece per range of images.
fn split_images<'a, T>(mut v: &'a mut [T], ranges: &[Range<usize>], per: usize) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let (a, b) = std::mem::take(&mut v).split_at_mut(r.len() * per);
        out.push(a);
        v = b;
    }
    out
}

/// The convolution itself, `(x, w, b) -> y = [relu](conv(x, w) + b)`, as one op, a group of
/// images at a time (in each thread's share of the batch): the group's columns into one reused
/// buffer, then one GEMM writing the group's output on top of the bias. The backward pass is [`ReluMask`] (with `relu`), the bias sum
/// and two more ops working image by image ([`ConvGradWeight`], [`ConvGradInput`]).
struct Conv2dOp {
    stride: usize,
    pad: usize,
    relu: bool,
    /// The implementation chosen (Winograd's transforms or not).
    kernels: Kernels,
    /// Whether a backward pass will follow (an operand is a variable): then a Winograd forward
    /// keeps its transformed weights and input tiles for it ([`winograd::Kept`]).
    keep: bool,
    /// What the forward kept (a `winograd::Kept<f32 or f64>`), taken by the backward. The op
    /// lives in its output's graph node, so an unused one is dropped with the graph.
    kept: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
    /// Where the weight's and bias's gradients go instead of candle's autograd (see
    /// [`super::sink`]), when the op was built inside a sink's scope.
    sink: Option<GradSink>,
}

impl Conv2dOp {
    fn fwd<T: WithDType + Send + Sync>(&self, x: &[T], w: &[T], bias: &[T], g: &Geom) -> Result<Vec<T>> {
        let (o, l, img) = (bias.len(), g.l(), g.image());
        let mut y = vec![T::zero(); g.n * o * l];
        let (threads, shares) = shares(g.n);
        let ys = split_images(&mut y, &shares, o * l);
        shares
            .into_par_iter()
            .zip(ys)
            .map(|(r, y)| self.fwd_images(&x[r.start * img..r.end * img], w, bias, g, y, threads))
            .collect::<Result<()>>()?;
        Ok(y)
    }

    /// The forward of some of the batch's images `x` into their outputs `y`.
    fn fwd_images<T: WithDType + Send + Sync>(
        &self,
        x: &[T],
        w: &[T],
        bias: &[T],
        g: &Geom,
        y: &mut [T],
        threads: Threads,
    ) -> Result<()> {
        let (o, l, kk) = (bias.len(), g.l(), g.kk());
        let m = g.group(x.len() / g.image());
        let mut cols = vec![T::zero(); kk * m * l];
        let mut t = vec![T::zero(); if m > 1 { o * m * l } else { 0 }];
        for (imgs, y_g) in x.chunks(m * g.image()).zip(y.chunks_mut(m * o * l)) {
            let mg = imgs.len() / g.image(); // the last group may be smaller
            let cols = &mut cols[..kk * mg * l];
            g.im2col(imgs, mg, cols, threads);
            // (o x mg·l) = bias + w (o x kk) . cols (kk x mg·l), straight into y when mg = 1
            let dst = if mg == 1 { &mut y_g[..] } else { &mut t[..o * mg * l] };
            for (row, &v) in dst.chunks_mut(mg * l).zip(bias) {
                row.fill(v);
            }
            matmul_on(threads, (o, mg * l, kk), dst, true, w, (1, kk), cols, (1, mg * l))?;
            if mg > 1 {
                // (o, mg, l) -> (mg, o, l)
                for_chunks_mut(threads, y_g, l, |(i, run)| {
                    let (b, oc) = (i / o, i % o);
                    run.copy_from_slice(&t[oc * mg * l + b * l..oc * mg * l + (b + 1) * l]);
                });
            }
            if self.relu {
                relu_in_place(threads, y_g);
            }
        }
        Ok(())
    }
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (o, wc, k, _) = l2.shape().dims4()?;
        if wc != c {
            candle_core::bail!("conv2d: input has {c} channels, the weight expects {wc}");
        }
        if o == 0 {
            candle_core::bail!("conv2d: the weight has 0 output channels");
        }
        check_dims("conv2d bias", l3, &[o])?;
        let g = Geom::new(n, c, h, w, k, self.stride, self.pad, self.kernels)?;
        let shape = Shape::from((n, o, g.oh, g.ow));
        let wino = g.winograd(o).and_then(|cv| Some((cv, cv.forward_tile(self.keep)?)));
        let out = float_triple!("conv2d", s1, l1, s2, l2, s3, l3, |x, wt, b| match wino {
            Some((cv, m)) => {
                let (y, kept) = winograd::forward_keep(x, wt, Some(b), self.relu, &cv, m, self.keep)?;
                if let (Some(kept), Ok(mut slot)) = (kept, self.kept.lock()) {
                    *slot = Some(Arc::new(kept));
                }
                y
            }
            None => self.fwd(x, wt, b, &g)?,
        });
        Ok((out, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, wd) = x.dims4()?;
        let (_, _, k, _) = w.dims4()?;
        let g = Geom::new(n, c, h, wd, k, self.stride, self.pad, self.kernels)?;
        let mut grad = grad.detach().contiguous()?;
        if self.relu {
            grad = grad.apply_op2_no_bwd(&y.detach().contiguous()?, &ReluMask)?;
        }
        // Only what a variable depends on: not the image batch, not a missing bias. A Winograd
        // forward's kept tiles give both gradients without transforming the weights again.
        if let Some(kept) = self.kept.lock().ok().and_then(|mut slot| slot.take()) {
            let grad_b = b.track_op().then(|| grad.apply_op1_no_bwd(&SumToChannels)).transpose()?;
            let (mut grad_x, mut grad_w) = (None, None);
            if x.track_op() || w.track_op() {
                // Z = A dY Aᵀ, once for both gradients
                let z = grad.apply_op1_no_bwd(&KeptGrad { kept: kept.clone(), pass: KeptPass::Transform })?;
                let pass = |pass| z.apply_op1_no_bwd(&KeptGrad { kept: kept.clone(), pass });
                grad_w = w.track_op().then(|| pass(KeptPass::Weight)).transpose()?;
                grad_x = x.track_op().then(|| pass(KeptPass::Input)).transpose()?;
            }
            let sink = self.sink.as_ref();
            return Ok((grad_x, GradSink::route(sink, w, grad_w)?, GradSink::route(sink, b, grad_b)?));
        }
        let grad_w = match w.track_op() {
            true => Some(x.detach().contiguous()?.apply_op2_no_bwd(&grad, &ConvGradWeight { g })?),
            false => None,
        };
        let grad_b = match b.track_op() {
            true => Some(grad.apply_op1_no_bwd(&SumToChannels)?),
            false => None,
        };
        let grad_x = match x.track_op() {
            true => Some(grad.apply_op2_no_bwd(&w.detach().contiguous()?, &ConvGradInput { g })?),
            false => None,
        };
        let sink = self.sink.as_ref();
        Ok((grad_x, GradSink::route(sink, w, grad_w)?, GradSink::route(sink, b, grad_b)?))
    }
}

/// The backward of a Winograd forward from what it kept: the output gradient
/// `(n, o, oh, ow)` transformed ([`winograd::transform_grad`]), then from that transform the input
/// gradient `(n, c, h, w)` ([`winograd::grad_input_kept`]) or the weight gradient `(o, c, k, k)`
/// ([`winograd::grad_weight_kept`]).
struct KeptGrad {
    kept: Arc<dyn Any + Send + Sync>,
    pass: KeptPass,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeptPass {
    Transform,
    Input,
    Weight,
}

impl KeptGrad {
    fn run<T: WithDType + Send + Sync>(&self, v: &[T]) -> Result<(Vec<T>, Shape)> {
        let Some(kept) = self.kept.downcast_ref::<winograd::Kept<T>>() else {
            candle_core::bail!("conv2d backward: the forward kept tiles of another dtype");
        };
        let cv = kept.conv();
        Ok(match self.pass {
            KeptPass::Transform => {
                let z = winograd::transform_grad(v, kept)?;
                let len = z.len();
                (z, Shape::from(len))
            }
            KeptPass::Input => (winograd::grad_input_kept(v, kept)?, Shape::from((cv.n, cv.c, cv.h, cv.w))),
            KeptPass::Weight => (winograd::grad_weight_kept(v, kept)?, Shape::from((cv.o, cv.c, cv.k, cv.k))),
        })
    }
}

impl CustomOp1 for KeptGrad {
    fn name(&self) -> &'static str {
        match self.pass {
            KeptPass::Transform => "alexnet-lab-conv2d-winograd-grad-transform",
            KeptPass::Input => "alexnet-lab-conv2d-winograd-grad-input",
            KeptPass::Weight => "alexnet-lab-conv2d-winograd-grad-weight",
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok(match s {
            CpuStorage::F32(v) => {
                let (out, shape) = self.run(contiguous(v, l, self.name())?)?;
                (CpuStorage::F32(out), shape)
            }
            CpuStorage::F64(v) => {
                let (out, shape) = self.run(contiguous(v, l, self.name())?)?;
                (CpuStorage::F64(out), shape)
            }
            _ => candle_core::bail!("{}: tensors must all be f32 or f64", self.name()),
        })
    }
}

/// `(x (n, c, h, w), grad (n, o, oh, ow)) -> dW (o, c, k, k) = Σ_b grad_b (o x l) · cols_bᵀ (l x kk)`.
struct ConvGradWeight {
    g: Geom,
}

impl CustomOp2 for ConvGradWeight {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d-grad-weight"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let o = l2.shape().dims().get(1).copied().unwrap_or(0).max(1);
        check_dims("conv2d grad-weight input", l1, &[g.n, g.c, g.h, g.w])?;
        check_dims("conv2d grad-weight gradient", l2, &[g.n, o, g.oh, g.ow])?;
        let (l, kk, img) = (g.l(), g.kk(), g.image());
        let wino = g.winograd(o).and_then(|cv| Some((cv, cv.grad_weight_block()?)));
        let out = float_pair!(self.name(), s1, l1, s2, l2, |x, grad| match wino {
            Some((cv, b)) => winograd::grad_weight(x, grad, &cv, b)?,
            None => {
                let (threads, shares) = shares(g.n);
                // Each share's own dWᵀ, their sum, then dW.
                let parts = shares
                    .into_par_iter()
                    .map(|r| grad_weight_t(&x[r.start * img..r.end * img], &grad[r.start * o * l..r.end * o * l], &g, o, threads))
                    .collect::<Result<Vec<_>>>()?;
                let mut parts = parts.into_iter();
                let mut dwt = parts.next().unwrap_or_else(|| vec![Default::default(); kk * o]);
                for p in parts {
                    dwt.iter_mut().zip(&p).for_each(|(a, &b)| *a += b);
                }
                transpose(&dwt, kk, o)
            }
        });
        Ok((out, Shape::from((o, g.c, g.k, g.k))))
    }
}

/// `dW (o x kk) = Σ_b grad_b (o x l) · cols_bᵀ (l x kk)` over some of the batch's images.
///
/// Computed transposed, `dWᵀ (kk x o) = Σ_b cols_b (kk x l) · grad_bᵀ (l x o)`: gemm then packs the
/// gradients (`o x l`) instead of the columns (`kk x l`, 6-9x larger for conv2-5), which it would
/// gather into panels in the untransposed form.
fn grad_weight_t<T: WithDType + Send + Sync>(x: &[T], grad: &[T], g: &Geom, o: usize, threads: Threads) -> Result<Vec<T>> {
    let (l, kk) = (g.l(), g.kk());
    let m = g.group(x.len() / g.image());
    let mut dwt = vec![T::zero(); kk * o];
    let mut cols = vec![T::zero(); kk * m * l];
    let mut gg = vec![T::zero(); if m > 1 { o * m * l } else { 0 }];
    for (i, (imgs, grad_g)) in x.chunks(m * g.image()).zip(grad.chunks(m * o * l)).enumerate() {
        let mg = imgs.len() / g.image();
        let cols = &mut cols[..kk * mg * l];
        g.im2col(imgs, mg, cols, threads);
        let lhs = if mg == 1 {
            grad_g
        } else {
            gather_channels(grad_g, mg, o, l, &mut gg[..o * mg * l], threads);
            &gg[..o * mg * l]
        };
        // dW^T (kk x o) += cols (kk x mg·l) . grad^T (mg·l x o)
        matmul_on(threads, (kk, o, mg * l), &mut dwt, i > 0, cols, (1, mg * l), lhs, (mg * l, 1))?;
    }
    Ok(dwt)
}

/// `(grad (n, o, oh, ow), w (o, c, k, k)) -> dX (n, c, h, w) = col2im(Wᵀ (kk x o) · grad_b (o x l))`.
struct ConvGradInput {
    g: Geom,
}

impl CustomOp2 for ConvGradInput {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d-grad-input"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let o = l2.shape().dims().first().copied().unwrap_or(0).max(1);
        check_dims("conv2d grad-input gradient", l1, &[g.n, o, g.oh, g.ow])?;
        check_dims("conv2d grad-input weight", l2, &[o, g.c, g.k, g.k])?;
        let (l, img) = (g.l(), g.image());
        let wino = g.winograd(o).and_then(|cv| Some((cv, cv.grad_input_tile()?)));
        let out = float_pair!(self.name(), s1, l1, s2, l2, |grad, w| match wino {
            Some((cv, m)) => winograd::grad_input(grad, w, &cv, m)?,
            None => {
                let mut dx = vec![Default::default(); g.n * img];
                let (threads, shares) = shares(g.n);
                let dxs = split_images(&mut dx, &shares, img);
                shares
                    .into_par_iter()
                    .zip(dxs)
                    .map(|(r, dx)| grad_input(&grad[r.start * o * l..r.end * o * l], w, &g, o, dx, threads))
                    .collect::<Result<()>>()?;
                dx
            }
        });
        Ok((out, Shape::from((g.n, g.c, g.h, g.w))))
    }
}

/// `dX = col2im(Wᵀ (kk x o) · grad_b (o x l))` for some of the batch's images, into `dx`.
fn grad_input<T: WithDType + Send + Sync>(grad: &[T], w: &[T], g: &Geom, o: usize, dx: &mut [T], threads: Threads) -> Result<()> {
    let (l, kk) = (g.l(), g.kk());
    let m = g.group(dx.len() / g.image());
    let mut gcols = vec![T::zero(); kk * m * l];
    let mut gg = vec![T::zero(); if m > 1 { o * m * l } else { 0 }];
    for (grad_g, dx_g) in grad.chunks(m * o * l).zip(dx.chunks_mut(m * g.image())) {
        let mg = dx_g.len() / g.image();
        let rhs = if mg == 1 {
            grad_g
        } else {
            gather_channels(grad_g, mg, o, l, &mut gg[..o * mg * l], threads);
            &gg[..o * mg * l]
        };
        // gcols (kk x mg·l) = w^T (kk x o) . grad (o x mg·l)
        let gcols = &mut gcols[..kk * mg * l];
        matmul_on(threads, (kk, mg * l, o), gcols, false, w, (kk, 1), rhs, (1, mg * l))?;
        g.col2im(gcols, mg, dx_g, threads);
    }
    Ok(())
}

/// 2-D convolution `(n, c, h, w) * (o, c, k, k) -> (n, o, oh, ow)` with optional bias `(o,)`,
/// square kernel, stride and zero padding. On the CPU it runs im2col + GEMM (forward and
/// backward); elsewhere, and with [`Kernels::Candle`], candle's own `conv2d`.
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize, kernels: Kernels) -> Result<Tensor> {
    conv2d_act(x, weight, bias, stride, pad, false, kernels)
}

/// `relu(conv2d(x, weight, bias))`: on the CPU one op (the ReLU applied as each image's output
/// is written, its backward masking the gradient in one pass); elsewhere two.
pub fn conv2d_relu(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize, kernels: Kernels) -> Result<Tensor> {
    conv2d_act(x, weight, bias, stride, pad, true, kernels)
}

fn conv2d_act(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize, relu: bool, kernels: Kernels) -> Result<Tensor> {
    let (o, _, k, k2) = weight.dims4()?;
    if k != k2 {
        candle_core::bail!("conv2d: only square kernels are supported, got {k}x{k2}");
    }
    // On a CUDA device: cuDNN and the lab's kernels (feature `cuda`), unless candle's are chosen.
    #[cfg(feature = "cuda")]
    if x.device().is_cuda() && kernels != Kernels::Candle {
        return super::cuda::conv2d(x, weight, &bias_or_zeros(bias, weight)?, stride, pad, relu);
    }
    if kernels.lab_on_cpu(x) {
        let bias = bias_or_zeros(bias, weight)?;
        let keep = x.track_op() || weight.track_op() || bias.track_op();
        let op = Conv2dOp { stride, pad, relu, keep, kernels, kept: Mutex::new(None), sink: GradSink::current() };
        return x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, op);
    }
    let y = x.conv2d(weight, pad, stride, 1, 1)?;
    let y = match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, o, 1, 1))?)?,
        None => y,
    };
    if relu {
        y.relu()
    } else {
        Ok(y)
    }
}
