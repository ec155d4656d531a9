//! Overlapping max-pooling (AlexNet's kernel 3, stride 2) with a backward pass.
//!
//! candle 0.11's `max_pool2d_with_stride` refuses to backpropagate when kernel != stride
//! ("backward not supported for maxpool2d if ksize != stride"), so AlexNet cannot be trained
//! with it. [`max_pool2d`] here is a `CustomOp1` whose forward matches candle's stock
//! forward and whose backward routes each output gradient to the arg-max of its window
//! (the first maximum in row-major order on ties, as PyTorch does).
//!
//! Self-contained (with `cpu_ops`) so it can be offered upstream to candle.

// Indexing in this file's hot loops is in bounds by construction: every op checks its
// operands' shapes against the geometry (`check_dims`, `Geom::new`, `dims4`) before any loop
// runs, and the loops' ranges are products of those checked dimensions. Bounds-checked `get`s
// in the per-element loops would cost speed for nothing; a bug here fails a test in
// tests/conv.rs, tests/pool.rs or tests/linear.rs (they compare against candle's own ops).
#![allow(clippy::indexing_slicing)]

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, WithDType,
};
use rayon::prelude::*;

use super::cpu::{contiguous, float_pair};

/// Geometry of one pooling call: input `(n, c, h, w)`, square kernel, stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolGeom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
}

impl PoolGeom {
    fn out_hw(&self) -> (usize, usize) {
        ((self.h - self.kernel) / self.stride + 1, (self.w - self.kernel) / self.stride + 1)
    }

    fn from_layout(layout: &Layout, kernel: usize, stride: usize) -> Result<Self> {
        let (n, c, h, w) = layout.shape().dims4()?;
        if kernel == 0 || stride == 0 {
            candle_core::bail!("max_pool2d: kernel ({kernel}) and stride ({stride}) must be >= 1");
        }
        if h < kernel || w < kernel {
            candle_core::bail!(
                "max_pool2d: input {h}x{w} is smaller than the {kernel}x{kernel} window; \
                 use a larger image size"
            );
        }
        if h.checked_mul(w).is_none_or(|p| p > u32::MAX as usize) {
            candle_core::bail!("max_pool2d: a {h}x{w} plane is too large (over 2^32 elements)");
        }
        Ok(Self { n, c, h, w, kernel, stride })
    }
}

/// Index (within one h*w plane) of the first maximum of the window at output `(oy, ox)`.
#[inline]
fn window_argmax<T: WithDType>(plane: &[T], g: &PoolGeom, oy: usize, ox: usize) -> usize {
    let (y0, x0) = (oy * g.stride, ox * g.stride);
    let mut best = y0 * g.w + x0;
    let mut best_v = plane[best];
    for dy in 0..g.kernel {
        let row = (y0 + dy) * g.w + x0;
        for (dx, &v) in plane[row..row + g.kernel].iter().enumerate() {
            // NaN propagates like PyTorch: a NaN in the window wins (`x != x` only for NaN).
            #[allow(clippy::eq_op)]
            let wins = v > best_v || (v != v && best_v == best_v);
            if wins {
                best = row + dx;
                best_v = v;
            }
        }
    }
    best
}

struct MaxPoolFwd {
    kernel: usize,
    stride: usize,
    /// Each output's arg-max (index within its input plane), kept from the forward pass so the
    /// backward does not scan the windows again (4 bytes per output: a quarter of the input's
    /// count at stride 2). The op lives in the graph node of its output, so this is dropped
    /// with the graph.
    argmax: std::sync::Mutex<Option<Vec<u32>>>,
    /// Whether to keep it (not for evaluation, where no backward follows).
    keep_argmax: bool,
}

impl MaxPoolFwd {
    fn fwd<T: WithDType + Send + Sync>(&self, x: &[T], g: &PoolGeom) -> Vec<T> {
        let (oh, ow) = g.out_hw();
        let mut out = vec![T::zero(); g.n * g.c * oh * ow];
        let mut idx = vec![0u32; if self.keep_argmax { out.len() } else { 0 }];
        let plane_of = |o: &mut [T], plane: &[T], mut ix: Option<&mut [u32]>| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let i = window_argmax(plane, g, oy, ox);
                    o[oy * ow + ox] = plane[i];
                    if let Some(ix) = ix.as_deref_mut() {
                        ix[oy * ow + ox] = i as u32;
                    }
                }
            }
        };
        if self.keep_argmax {
            out.par_chunks_mut(oh * ow)
                .zip(idx.par_chunks_mut(oh * ow))
                .zip(x.par_chunks(g.h * g.w))
                .for_each(|((o, ix), plane)| plane_of(o, plane, Some(ix)));
        } else {
            out.par_chunks_mut(oh * ow).zip(x.par_chunks(g.h * g.w)).for_each(|(o, plane)| plane_of(o, plane, None));
        }
        // A plane has fewer than 2^32 elements (checked in `from_layout`), so the u32s are exact.
        if self.keep_argmax {
            if let Ok(mut slot) = self.argmax.lock() {
                *slot = Some(idx);
            }
        }
        out
    }
}

impl CustomOp1 for MaxPoolFwd {
    fn name(&self) -> &'static str {
        "alexnet-lab-max-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = PoolGeom::from_layout(layout, self.kernel, self.stride)?;
        let (oh, ow) = g.out_hw();
        let shape = Shape::from((g.n, g.c, oh, ow));
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(self.fwd(contiguous(s, layout, self.name())?, &g)),
            CpuStorage::F64(s) => CpuStorage::F64(self.fwd(contiguous(s, layout, self.name())?, &g)),
            _ => candle_core::bail!("max_pool2d: only f32 and f64 are supported"),
        };
        Ok((out, shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        // The arg-max of the forward pass, when this op's forward ran on this input (always,
        // when candle's autograd calls this); otherwise the windows are scanned again.
        let kept = self.argmax.lock().ok().and_then(|mut slot| slot.take());
        if let Some(argmax) = kept.filter(|a| a.len() == grad.elem_count()) {
            let op = MaxPoolScatter { argmax, in_dims: arg.dims().to_vec() };
            return Ok(Some(grad.apply_op1_no_bwd(&op)?));
        }
        let arg = arg.contiguous()?;
        let op = MaxPoolBwd { kernel: self.kernel, stride: self.stride };
        Ok(Some(arg.apply_op2_no_bwd(&grad, &op)?))
    }
}

/// `grad_output -> grad_input` from the arg-max kept by the forward pass: each output's
/// gradient added to its window's maximum (overlapping windows that chose the same element add).
struct MaxPoolScatter {
    argmax: Vec<u32>,
    /// `(n, c, h, w)` of the input.
    in_dims: Vec<usize>,
}

impl MaxPoolScatter {
    fn scatter<T: WithDType + Send + Sync>(&self, grad: &[T], plane_in: usize, plane_out: usize) -> Vec<T> {
        let planes = grad.len() / plane_out.max(1);
        let mut gx = vec![T::zero(); planes * plane_in];
        gx.par_chunks_mut(plane_in)
            .zip(grad.par_chunks(plane_out))
            .zip(self.argmax.par_chunks(plane_out))
            .for_each(|((gplane, gout), idx)| {
                // Written before it is read (as in `MaxPoolBwd`): the page is then faulted in once.
                gplane.fill(T::zero());
                for (&i, &g) in idx.iter().zip(gout) {
                    if let Some(slot) = gplane.get_mut(i as usize) {
                        *slot += g;
                    }
                }
            });
        gx
    }
}

impl CustomOp1 for MaxPoolScatter {
    fn name(&self) -> &'static str {
        "alexnet-lab-max-pool2d-scatter"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let [n, c, h, w] = self.in_dims[..] else {
            candle_core::bail!("max_pool2d backward: input dims {:?} are not (n, c, h, w)", self.in_dims)
        };
        let (gn, gc, oh, ow) = layout.shape().dims4()?;
        if (gn, gc) != (n, c) || self.argmax.len() != n * c * oh * ow {
            candle_core::bail!("max_pool2d backward: gradient {:?} does not match the input {:?}", layout.shape().dims(), self.in_dims);
        }
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(self.scatter(contiguous(s, layout, self.name())?, h * w, oh * ow)),
            CpuStorage::F64(s) => CpuStorage::F64(self.scatter(contiguous(s, layout, self.name())?, h * w, oh * ow)),
            _ => candle_core::bail!("max_pool2d: only f32 and f64 are supported"),
        };
        Ok((out, Shape::from(self.in_dims.clone())))
    }
}

/// `(input, grad_output) -> grad_input` of the max-pool above.
struct MaxPoolBwd {
    kernel: usize,
    stride: usize,
}

impl MaxPoolBwd {
    fn bwd<T: WithDType + Send + Sync>(&self, x: &[T], grad: &[T], g: &PoolGeom) -> Vec<T> {
        let (oh, ow) = g.out_hw();
        let mut gx = vec![T::zero(); x.len()];
        gx.par_chunks_mut(g.h * g.w)
            .zip(x.par_chunks(g.h * g.w))
            .zip(grad.par_chunks(oh * ow))
            .for_each(|((gplane, plane), gout)| {
                // Written before it is read: a first read of a fresh page maps the shared zero
                // page, and the write after it costs a copy-on-write fault and a TLB flush.
                gplane.fill(T::zero());
                for oy in 0..oh {
                    for ox in 0..ow {
                        let i = window_argmax(plane, g, oy, ox);
                        gplane[i] += gout[oy * ow + ox];
                    }
                }
            });
        gx
    }
}

impl CustomOp2 for MaxPoolBwd {
    fn name(&self) -> &'static str {
        "alexnet-lab-max-pool2d-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = PoolGeom::from_layout(l1, self.kernel, self.stride)?;
        let (oh, ow) = g.out_hw();
        if l2.shape().dims() != [g.n, g.c, oh, ow] {
            candle_core::bail!(
                "max_pool2d backward: gradient shape {:?}, expected {:?}",
                l2.shape().dims(),
                [g.n, g.c, oh, ow]
            );
        }
        let out = float_pair!(self.name(), s1, l1, s2, l2, |x, gr| self.bwd(x, gr, &g));
        Ok((out, l1.shape().clone()))
    }
}

/// Every `stride`-th element of dimension `dim`, starting at `start`, `count` of them:
/// `x[..., start : start + stride * count : stride, ...]` from differentiable tensor ops.
fn strided(x: &Tensor, dim: usize, start: usize, count: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(dim, start, count);
    }
    let size = x.dim(dim)?;
    let need = start + stride * count;
    // Pad the end so the slice reshapes into (count, stride); padded cells are never picked.
    let x = if need > size { x.pad_with_zeros(dim, 0, need - size)? } else { x.clone() };
    let mut shape = x.narrow(dim, start, stride * count)?.dims().to_vec();
    shape[dim] = count;
    shape.insert(dim + 1, stride);
    x.narrow(dim, start, stride * count)?.reshape(shape)?.narrow(dim + 1, 0, 1)?.squeeze(dim + 1)
}

/// The same pooling from candle's differentiable tensor ops (a max over the `kernel²` shifted,
/// strided views): runs and backpropagates on any device, e.g. CUDA. On ties the gradient is
/// shared between the maxima (candle's `maximum`), where the CPU op gives it to the first.
pub fn max_pool2d_generic(x: &Tensor, kernel: usize, stride: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if kernel == 0 || stride == 0 || h < kernel || w < kernel {
        candle_core::bail!("max_pool2d: input {h}x{w} is smaller than the {kernel}x{kernel} window");
    }
    let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
    let mut out: Option<Tensor> = None;
    for dy in 0..kernel {
        let rows = strided(x, 2, dy, oh, stride)?;
        for dx in 0..kernel {
            let v = strided(&rows, 3, dx, ow, stride)?;
            out = Some(match out {
                None => v,
                Some(m) => m.maximum(&v)?,
            });
        }
    }
    out.ok_or_else(|| candle_core::Error::Msg("max-pool kernel must be at least 1".into()))
}

/// Max-pooling over square `kernel` windows moved by `stride`, differentiable for any
/// kernel/stride (unlike candle's stock op). Input `(n, c, h, w)`, f32 or f64.
///
/// On the CPU this runs the custom op; on a CUDA device (feature `cuda`) the lab's CUDA op;
/// elsewhere [`max_pool2d_generic`].
pub fn max_pool2d(x: &Tensor, kernel: usize, stride: usize) -> Result<Tensor> {
    max_pool2d_t(x, kernel, stride, true, super::Kernels::Lab)
}

/// [`max_pool2d`] that keeps each window's arg-max for the backward pass only when `train`
/// (evaluation skips storing it; a backward then scans the windows again). `kernels` matters on
/// a CUDA device only: [`super::Kernels::Candle`] there takes [`max_pool2d_generic`]; on the CPU
/// the lab's op always runs (candle's has no backward for AlexNet's 3/2 windows).
pub(crate) fn max_pool2d_t(x: &Tensor, kernel: usize, stride: usize, train: bool, kernels: super::Kernels) -> Result<Tensor> {
    #[cfg(not(feature = "cuda"))]
    let _ = kernels;
    if !x.device().is_cpu() {
        // On a CUDA device the lab's kernel (feature `cuda`), unless candle's ops are chosen.
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() && kernels != super::Kernels::Candle {
            return super::cuda::max_pool2d(x, kernel, stride, train);
        }
        return max_pool2d_generic(x, kernel, stride);
    }
    let op = MaxPoolFwd { kernel, stride, argmax: Default::default(), keep_argmax: train };
    match x.dtype() {
        DType::F32 | DType::F64 => x.contiguous()?.apply_op1(op),
        dt => candle_core::bail!("max_pool2d: dtype {dt:?} not supported (use f32 or f64)"),
    }
}
