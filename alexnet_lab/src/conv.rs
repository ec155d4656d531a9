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

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType};
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
}

fn contiguous<'a, T: WithDType>(s: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("conv2d: input must be contiguous"),
    }
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
        let (l, kk, k) = (g.oh * g.ow, g.kk(), g.k);
        let mut cols = vec![T::zero(); g.n * l * kk];
        cols.par_chunks_mut(kk).enumerate().for_each(|(row, dst)| {
            let (b, pos) = (row / l, row % l);
            let (oy, ox) = (pos / g.ow, pos % g.ow);
            let img = &x[b * g.c * g.h * g.w..(b + 1) * g.c * g.h * g.w];
            for c in 0..g.c {
                let plane = &img[c * g.h * g.w..(c + 1) * g.h * g.w];
                for ky in 0..k {
                    let Some(iy) = g.src(oy, ky, g.h) else { continue };
                    let d = &mut dst[(c * k + ky) * k..(c * k + ky + 1) * k];
                    for (kx, v) in d.iter_mut().enumerate() {
                        if let Some(ix) = g.src(ox, kx, g.w) {
                            *v = plane[iy * g.w + ix];
                        }
                    }
                }
            }
        });
        cols
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
        let g = &self.g;
        let (l, kk, k, img) = (g.oh * g.ow, g.kk(), g.k, g.c * g.h * g.w);
        let mut x = vec![T::zero(); g.n * img];
        // Parallel over (image, channel) planes: each plane is written by one thread only.
        x.par_chunks_mut(g.h * g.w).enumerate().for_each(|(p, plane)| {
            let (b, c) = (p / g.c, p % g.c);
            let src = &cols[b * l * kk..(b + 1) * l * kk];
            for pos in 0..l {
                let (oy, ox) = (pos / g.ow, pos % g.ow);
                let row = &src[pos * kk + c * k * k..pos * kk + (c + 1) * k * k];
                for ky in 0..k {
                    let Some(iy) = g.src(oy, ky, g.h) else { continue };
                    for kx in 0..k {
                        if let Some(ix) = g.src(ox, kx, g.w) {
                            plane[iy * g.w + ix] += row[ky * k + kx];
                        }
                    }
                }
            }
        });
        x
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

/// The convolution itself, `(x, w) -> y`, as one op: forward is im2col + one GEMM per image
/// writing NCHW directly; backward recomputes the columns and runs two GEMMs. Keeping it one
/// node spares candle's backprop the zero-fill + add it performs for every intermediate.
struct Conv2dOp {
    stride: usize,
    pad: usize,
}

impl Conv2dOp {
    fn fwd<T: WithDType + Send + Sync + 'static>(&self, x: &[T], w: &[T], g: &Geom, o: usize) -> Vec<T> {
        let cols = Im2Col { k: g.k, stride: g.stride, pad: g.pad }.run(x, g); // (n, l, kk)
        let (l, kk) = (g.oh * g.ow, g.kk());
        let nl = g.n * l;
        // One GEMM for the whole batch: t (o x n*l) = w (o x kk) . cols^T (kk x n*l) ...
        let mut t = vec![T::zero(); o * nl];
        unsafe {
            gemm::gemm(
                o, nl, kk,
                t.as_mut_ptr(), 1, nl as isize, false,
                w.as_ptr(), 1, kk as isize,
                cols.as_ptr(), kk as isize, 1,
                T::zero(), T::one(), false, false, false,
                gemm::Parallelism::Rayon(0),
            );
        }
        drop(cols);
        // ... then (o, n, l) -> (n, o, l).
        let mut y = vec![T::zero(); g.n * o * l];
        y.par_chunks_mut(l).enumerate().for_each(|(i, dst)| {
            let (b, oc) = (i / o, i % o);
            dst.copy_from_slice(&t[oc * nl + b * l..oc * nl + (b + 1) * l]);
        });
        y
    }
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "alexnet-lab-conv2d"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (o, wc, k, _) = l2.shape().dims4()?;
        if wc != c {
            candle_core::bail!("conv2d: input has {c} channels, the weight expects {wc}");
        }
        let g = Geom::new(n, c, h, w, k, self.stride, self.pad)?;
        let shape = Shape::from((n, o, g.oh, g.ow));
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(wt)) => {
                CpuStorage::F32(self.fwd(contiguous(x, l1)?, contiguous(wt, l2)?, &g, o))
            }
            (CpuStorage::F64(x), CpuStorage::F64(wt)) => {
                CpuStorage::F64(self.fwd(contiguous(x, l1)?, contiguous(wt, l2)?, &g, o))
            }
            _ => candle_core::bail!("conv2d: input and weight must both be f32 or f64"),
        };
        Ok((out, shape))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // No gradient for an input that does not depend on a variable (the image batch).
        let need_dx = x.track_op();
        let (n, c, h, wd) = x.dims4()?;
        let (o, _, k, _) = w.dims4()?;
        let g = Geom::new(n, c, h, wd, k, self.stride, self.pad)?;
        let (l, kk) = (g.oh * g.ow, g.kk());
        let w2 = w.detach().reshape((o, kk))?;
        let grad = grad.detach().contiguous()?.reshape((n, o, l))?;
        let cols = x.detach().contiguous()?.apply_op1_no_bwd(&Im2Col { k, stride: self.stride, pad: self.pad })?;
        // dW (o x kk) = sum_b grad_b (o x l) . cols_b (l x kk), as one GEMM over n*l.
        let g_onl = grad.transpose(0, 1)?.contiguous()?.reshape((o, n * l))?;
        let grad_w = g_onl.matmul(&cols.reshape((n * l, kk))?)?.reshape(w.dims())?;
        drop(cols);
        // dX = col2im(grad^T (n*l x o) . w (o x kk)).
        let grad_x = if need_dx {
            let g_nlo = grad.transpose(1, 2)?.contiguous()?.reshape((n * l, o))?;
            let gcols = g_nlo.matmul(&w2)?.reshape((n, l, kk))?;
            Some(gcols.apply_op1_no_bwd(&Col2Im { g })?)
        } else {
            None
        };
        Ok((grad_x, Some(grad_w)))
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
    let (o, _, k, k2) = weight.dims4()?;
    if k != k2 {
        candle_core::bail!("conv2d: only square kernels are supported, got {k}x{k2}");
    }
    let y = match ConvImpl::current(x) {
        ConvImpl::Fused => x.contiguous()?.apply_op2(&weight.contiguous()?, Conv2dOp { stride, pad })?,
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
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, o, 1, 1))?),
        None => Ok(y),
    }
}
