//! GEMM-based 2-D convolution for the CPU, forward and backward.
//!
//! candle 0.11 computes a convolution's input gradient with `conv_transpose2d`, a direct loop
//! without GEMM, and its weight gradient with a dilated convolution over batch/channel-swapped
//! tensors (single-threaded for AlexNet's conv1): together most of a training step. Here a
//! convolution is `im2col` (a custom op whose backward is `col2im`) followed by one matrix
//! product, so GEMM does the forward, the input gradient (grad · W) and the weight
//! gradient (gradᵀ · cols). An input that needs no gradient (the image) gets none.
//!
//! Self-contained so it can be offered upstream to candle.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

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
}

impl Geom {
    fn new(n: usize, c: usize, h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Result<Self> {
        if k == 0 || stride == 0 {
            candle_core::bail!("conv2d: kernel ({k}) and stride ({stride}) must be >= 1");
        }
        if h + 2 * pad < k || w + 2 * pad < k {
            candle_core::bail!("conv2d: padded input {}x{} is smaller than the {k}x{k} kernel", h + 2 * pad, w + 2 * pad);
        }
        let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
        Ok(Self { n, c, h, w, k, stride, pad, oh, ow })
    }

    /// Columns per output position: `c * k * k`.
    fn kk(&self) -> usize {
        self.c * self.k * self.k
    }

    /// For output coordinate `o` and kernel offset `d`, the input coordinate (None in padding).
    #[inline]
    fn src(&self, o: usize, d: usize, size: usize) -> Option<usize> {
        let i = (o * self.stride + d).checked_sub(self.pad)?;
        (i < size).then_some(i)
    }

    /// For output column `ox`, the kernel offsets `lo..hi` whose input column is inside the
    /// image (possibly empty), and `base` with input column = `base + kx - pad`. Consecutive
    /// offsets read consecutive input columns, so a window row is one slice.
    #[inline]
    fn cols_inside(&self, ox: usize) -> (usize, usize, usize) {
        let base = ox * self.stride;
        let lo = self.pad.saturating_sub(base).min(self.k);
        let hi = (self.w + self.pad).saturating_sub(base).min(self.k).max(lo);
        (lo, hi, base)
    }
}

fn contiguous<'a, T: WithDType>(s: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("conv2d: input must be contiguous"),
    }
}

/// Two storages of one float type as slices, or the error every op here gives for others.
macro_rules! float_pair {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($s1, $s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                let ($a, $b) = (contiguous(a, $l1)?, contiguous(b, $l2)?);
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                let ($a, $b) = (contiguous(a, $l1)?, contiguous(b, $l2)?);
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("conv2d: tensors must all be f32 or f64"),
        }
    };
}

fn check_dims(what: &str, l: &Layout, expected: &[usize]) -> Result<()> {
    if l.shape().dims() != expected {
        candle_core::bail!("{what}: got shape {:?}, expected {expected:?}", l.shape().dims());
    }
    Ok(())
}

/// `(n, c, h, w) -> (n, oh * ow, c * k * k)`.
struct Im2Col {
    k: usize,
    stride: usize,
    pad: usize,
}

impl Im2Col {
    fn geom(&self, l: &Layout) -> Result<Geom> {
        let (n, c, h, w) = l.shape().dims4()?;
        Geom::new(n, c, h, w, self.k, self.stride, self.pad)
    }

    fn run<T: WithDType + Send + Sync>(&self, x: &[T], g: &Geom) -> Vec<T> {
        let mut cols = vec![T::zero(); g.n * g.oh * g.ow * g.kk()];
        self.run_into(x, g, &mut cols);
        cols
    }

    /// Writes every entry of `cols` (`g.n * oh * ow * kk` long), zeros where the window is in
    /// the padding, so a buffer can be reused.
    fn run_into<T: WithDType + Send + Sync>(&self, x: &[T], g: &Geom, cols: &mut [T]) {
        let (l, kk, k) = (g.oh * g.ow, g.kk(), g.k);
        cols.par_chunks_mut(kk).enumerate().for_each(|(row, dst)| {
            let (b, pos) = (row / l, row % l);
            let (oy, ox) = (pos / g.ow, pos % g.ow);
            let (lo, hi, base) = g.cols_inside(ox);
            let img = &x[b * g.c * g.h * g.w..(b + 1) * g.c * g.h * g.w];
            for c in 0..g.c {
                let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
                for ky in 0..k {
                    let d = &mut dst[(c * k + ky) * k..(c * k + ky + 1) * k];
                    let iy = match g.src(oy, ky, g.h) {
                        Some(iy) if lo < hi => iy,
                        _ => {
                            d.fill(T::zero());
                            continue;
                        }
                    };
                    let row = &plane[iy * g.w..(iy + 1) * g.w];
                    d[..lo].fill(T::zero());
                    d[lo..hi].copy_from_slice(&row[base + lo - g.pad..base + hi - g.pad]);
                    d[hi..].fill(T::zero());
                }
            }
        });
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "alexnet-lab-im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.geom(l)?;
        let shape = Shape::from((g.n, g.oh * g.ow, g.kk()));
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(self.run(contiguous(v, l)?, &g)),
            CpuStorage::F64(v) => CpuStorage::F64(self.run(contiguous(v, l)?, &g)),
            _ => candle_core::bail!("conv2d: only f32 and f64 are supported"),
        };
        Ok((out, shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (n, c, h, w) = arg.dims4()?;
        let g = Geom::new(n, c, h, w, self.k, self.stride, self.pad)?;
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im { g })?))
    }
}

/// `(n, oh * ow, c * k * k) -> (n, c, h, w)`, summing overlapping windows (im2col's adjoint).
struct Col2Im {
    g: Geom,
}

impl Col2Im {
    fn run<T: WithDType + Send + Sync>(&self, cols: &[T]) -> Vec<T> {
        let mut x = vec![T::zero(); self.g.n * self.g.c * self.g.h * self.g.w];
        self.run_into(cols, &mut x);
        x
    }

    /// Overwrites `x` (`g.n * c * h * w` long) with the sums of `cols`' windows.
    fn run_into<T: WithDType + Send + Sync>(&self, cols: &[T], x: &mut [T]) {
        let g = &self.g;
        let (l, kk, k) = (g.oh * g.ow, g.kk(), g.k);
        // Parallel over (image, channel) planes: each plane is written by one thread only.
        x.par_chunks_mut(g.h * g.w).enumerate().for_each(|(p, plane)| {
            plane.fill(T::zero());
            let (b, c) = (p / g.c, p % g.c);
            let src = &cols[b * l * kk..(b + 1) * l * kk];
            for pos in 0..l {
                let (oy, ox) = (pos / g.ow, pos % g.ow);
                let row = &src[pos * kk + c * k * k..pos * kk + (c + 1) * k * k];
                let (lo, hi, base) = g.cols_inside(ox);
                if lo == hi {
                    continue;
                }
                for ky in 0..k {
                    let Some(iy) = g.src(oy, ky, g.h) else { continue };
                    let line = &mut plane[iy * g.w + base + lo - g.pad..iy * g.w + base + hi - g.pad];
                    for (v, &d) in line.iter_mut().zip(&row[ky * k + lo..ky * k + hi]) {
                        *v += d;
                    }
                }
            }
        });
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "alexnet-lab-col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        if l.shape().dims() != [g.n, g.oh * g.ow, g.kk()] {
            candle_core::bail!("col2im: got {:?}, expected {:?}", l.shape().dims(), [g.n, g.oh * g.ow, g.kk()]);
        }
        let shape = Shape::from((g.n, g.c, g.h, g.w));
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(self.run(contiguous(v, l)?)),
            CpuStorage::F64(v) => CpuStorage::F64(self.run(contiguous(v, l)?)),
            _ => candle_core::bail!("conv2d: only f32 and f64 are supported"),
        };
        Ok((out, shape))
    }
}

/// `dst (m x n) = [dst +] lhs (m x k) . rhs (k x n)`, each operand given by its column and row
/// strides (so a transposed view costs nothing), multithreaded by `gemm`.
#[allow(clippy::too_many_arguments)]
fn matmul_into<T: WithDType>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[T],
    (rhs_cs, rhs_rs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::zero());
        }
        return;
    }
    let last = |cs: usize, rs: usize, r: usize, c: usize| (r - 1) * rs + (c - 1) * cs;
    // The strides must stay inside the slices (gemm reads through raw pointers).
    assert!(dst.len() > last(1, n, m, n) && lhs.len() > last(lhs_cs, lhs_rs, m, k) && rhs.len() > last(rhs_cs, rhs_rs, k, n));
    // SAFETY: the three slices are valid for every (row, column) the strides reach (checked
    // above), and `dst` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m, n, k,
            dst.as_mut_ptr(), 1, n as isize, accumulate,
            lhs.as_ptr(), lhs_cs as isize, lhs_rs as isize,
            rhs.as_ptr(), rhs_cs as isize, rhs_rs as isize,
            T::one(), T::one(), false, false, false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// The convolution itself, `(x, w, b) -> y = [relu](conv(x, w) + b)`, as one op. It works one
/// image at a time: the image's columns (`l x kk`, a few MB, one buffer reused for the whole
/// batch) and one GEMM writing the image's NCHW output directly, on top of the bias. The whole
/// batch's columns would be `kk` times the input (830 MB for conv2 at batch 128), which is
/// where the memory of a plain im2col convolution goes. Bias and ReLU inside the op spare two
/// output-sized tensors per layer and candle's zero-fill + add of their gradients. The backward
/// pass is [`ReluMask`] (with `relu`) and two more ops working image by image
/// ([`ConvGradWeight`], [`ConvGradInput`]).
struct Conv2dOp {
    stride: usize,
    pad: usize,
    relu: bool,
}

impl Conv2dOp {
    fn fwd<T: WithDType + Send + Sync>(&self, x: &[T], w: &[T], bias: &[T], g: &Geom) -> Vec<T> {
        let o = bias.len();
        let (l, kk, img) = (g.oh * g.ow, g.kk(), g.c * g.h * g.w);
        let one = Geom { n: 1, ..*g };
        let im2col = Im2Col { k: g.k, stride: g.stride, pad: g.pad };
        let mut y = vec![T::zero(); g.n * o * l];
        let mut cols = vec![T::zero(); l * kk];
        for (b, y_b) in y.chunks_mut(o * l).enumerate() {
            im2col.run_into(&x[b * img..(b + 1) * img], &one, &mut cols);
            for (row, &v) in y_b.chunks_mut(l).zip(bias) {
                row.fill(v);
            }
            // y_b (o x l) += w (o x kk) . cols^T (kk x l)
            matmul_into((o, l, kk), y_b, true, w, (1, kk), &cols, (kk, 1));
            if self.relu {
                y_b.par_chunks_mut(l).for_each(|row| row.iter_mut().for_each(|v| *v = v.max(T::zero())));
            }
        }
        y
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
        check_dims("conv2d bias", l3, &[o])?;
        let g = Geom::new(n, c, h, w, k, self.stride, self.pad)?;
        let shape = Shape::from((n, o, g.oh, g.ow));
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(wt), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.fwd(contiguous(x, l1)?, contiguous(wt, l2)?, contiguous(b, l3)?, &g))
            }
            (CpuStorage::F64(x), CpuStorage::F64(wt), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.fwd(contiguous(x, l1)?, contiguous(wt, l2)?, contiguous(b, l3)?, &g))
            }
            _ => candle_core::bail!("conv2d: input, weight and bias must all be f32 or f64"),
        };
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
        let g = Geom::new(n, c, h, wd, k, self.stride, self.pad)?;
        let mut grad = grad.detach().contiguous()?;
        if self.relu {
            grad = grad.apply_op2_no_bwd(&y.detach().contiguous()?, &ReluMask)?;
        }
        // Only what a variable depends on: not the image batch, not a missing bias.
        let grad_w = match w.track_op() {
            true => Some(x.detach().contiguous()?.apply_op2_no_bwd(&grad, &ConvGradWeight { g })?),
            false => None,
        };
        let grad_b = match b.track_op() {
            true => Some(grad.sum((0, 2, 3))?),
            false => None,
        };
        let grad_x = match x.track_op() {
            true => Some(grad.apply_op2_no_bwd(&w.detach().contiguous()?, &ConvGradInput { g })?),
            false => None,
        };
        Ok((grad_x, grad_w, grad_b))
    }
}

/// `(grad, y) -> grad` where `y > 0`, else 0: ReLU's backward from its output, in one pass.
struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "alexnet-lab-relu-mask"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        check_dims("relu backward", l2, l1.shape().dims())?;
        let out = float_pair!(s1, l1, s2, l2, |grad, y| {
            let mut out = grad.to_vec();
            out.par_chunks_mut(1 << 14).zip(y.par_chunks(1 << 14)).for_each(|(o, y)| {
                for (o, &y) in o.iter_mut().zip(y) {
                    if y <= Default::default() {
                        *o = Default::default();
                    }
                }
            });
            out
        });
        Ok((out, l1.shape().clone()))
    }
}

/// `(x (n, c, h, w), grad (n, o, oh, ow)) -> dW (o, c, k, k) = sum_b grad_b (o x l) . cols_b (l x kk)`.
struct ConvGradWeight {
    g: Geom,
}

impl CustomOp2 for ConvGradWeight {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d-grad-weight"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let o = l2.shape().dims().get(1).copied().unwrap_or(0);
        check_dims("conv2d grad-weight input", l1, &[g.n, g.c, g.h, g.w])?;
        check_dims("conv2d grad-weight gradient", l2, &[g.n, o, g.oh, g.ow])?;
        let (l, kk, img) = (g.oh * g.ow, g.kk(), g.c * g.h * g.w);
        let one = Geom { n: 1, ..g };
        let im2col = Im2Col { k: g.k, stride: g.stride, pad: g.pad };
        let out = float_pair!(s1, l1, s2, l2, |x, grad| {
            let mut dw = vec![Default::default(); o * kk];
            let mut cols = vec![Default::default(); l * kk];
            for b in 0..g.n {
                im2col.run_into(&x[b * img..(b + 1) * img], &one, &mut cols);
                let grad_b = &grad[b * o * l..(b + 1) * o * l];
                // dW (o x kk) += grad_b (o x l) . cols_b (l x kk)
                matmul_into((o, kk, l), &mut dw, b > 0, grad_b, (1, l), &cols, (1, kk));
            }
            dw
        });
        Ok((out, Shape::from((o, g.c, g.k, g.k))))
    }
}

/// `(grad (n, o, oh, ow), w (o, c, k, k)) -> dX (n, c, h, w) = col2im(grad_b^T (l x o) . w (o x kk))`.
struct ConvGradInput {
    g: Geom,
}

impl CustomOp2 for ConvGradInput {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d-grad-input"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let o = l2.shape().dims().first().copied().unwrap_or(0);
        check_dims("conv2d grad-input gradient", l1, &[g.n, o, g.oh, g.ow])?;
        check_dims("conv2d grad-input weight", l2, &[o, g.c, g.k, g.k])?;
        let (l, kk, img) = (g.oh * g.ow, g.kk(), g.c * g.h * g.w);
        let col2im = Col2Im { g: Geom { n: 1, ..g } };
        let out = float_pair!(s1, l1, s2, l2, |grad, w| {
            let mut dx = vec![Default::default(); g.n * img];
            let mut gcols = vec![Default::default(); l * kk];
            for (b, dx_b) in dx.chunks_mut(img).enumerate() {
                let grad_b = &grad[b * o * l..(b + 1) * o * l];
                // gcols (l x kk) = grad_b^T (l x o) . w (o x kk)
                matmul_into((l, kk, o), &mut gcols, false, grad_b, (l, 1), w, (1, kk));
                col2im.run_into(&gcols, dx_b);
            }
            dx
        });
        Ok((out, Shape::from((g.n, g.c, g.h, g.w))))
    }
}

/// Which convolution runs; `ALEXNET_LAB_CONV=fused|im2col|candle` overrides the default
/// (for benchmarks: `candle` is the stock op, whose backward is slow on the CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvImpl {
    /// One custom op: im2col + GEMM forward, two GEMMs + col2im backward.
    Fused,
    /// A custom im2col op followed by candle's matmul (autodiff through both).
    Im2colMatmul,
    /// candle's own `conv2d`.
    Candle,
}

impl ConvImpl {
    /// The implementation for `x`'s device: candle's own off the CPU.
    pub fn current(x: &Tensor) -> Self {
        if !x.device().is_cpu() {
            return Self::Candle;
        }
        match std::env::var("ALEXNET_LAB_CONV").as_deref() {
            Ok("candle") => Self::Candle,
            Ok("im2col") => Self::Im2colMatmul,
            _ => Self::Fused,
        }
    }
}

/// 2-D convolution `(n, c, h, w) * (o, c, k, k) -> (n, o, oh, ow)` with optional bias `(o,)`,
/// square kernel, stride and zero padding. On the CPU it runs im2col + GEMM (forward and
/// backward); elsewhere it uses candle's own `conv2d`.
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize) -> Result<Tensor> {
    conv2d_act(x, weight, bias, stride, pad, false)
}

/// `relu(conv2d(x, weight, bias))`: on the CPU one op (the ReLU applied as each image's output
/// is written, its backward masking the gradient in one pass); elsewhere two.
pub fn conv2d_relu(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize) -> Result<Tensor> {
    conv2d_act(x, weight, bias, stride, pad, true)
}

fn conv2d_act(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, stride: usize, pad: usize, relu: bool) -> Result<Tensor> {
    let (o, _, k, k2) = weight.dims4()?;
    if k != k2 {
        candle_core::bail!("conv2d: only square kernels are supported, got {k}x{k2}");
    }
    let y = match ConvImpl::current(x) {
        ConvImpl::Fused => {
            let zeros;
            let bias = match bias {
                Some(b) => b.contiguous()?,
                None => {
                    zeros = Tensor::zeros(o, weight.dtype(), weight.device())?;
                    zeros
                }
            };
            return x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, Conv2dOp { stride, pad, relu });
        }
        ConvImpl::Im2colMatmul => {
            let (n, c, h, w) = x.dims4()?;
            let g = Geom::new(n, c, h, w, k, stride, pad)?;
            let (l, kk) = (g.oh * g.ow, g.kk());
            let cols = x.contiguous()?.apply_op1(Im2Col { k, stride, pad })?; // (n, l, kk)
            let y = cols.reshape((n * l, kk))?.matmul(&weight.reshape((o, kk))?.t()?)?; // (n*l, o)
            y.reshape((n, l, o))?.transpose(1, 2)?.contiguous()?.reshape((n, o, g.oh, g.ow))?
        }
        ConvImpl::Candle => x.conv2d(weight, pad, stride, 1, 1)?,
    };
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
