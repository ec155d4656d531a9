//! Building blocks shared by the lab's CPU ops (`conv`, `linear`, `pool`, `sgd`): slices of contiguous
//! storage, a strided GEMM into a slice, ReLU and its backward as one pass each.

// Indexing in this file's hot loops is in bounds by construction: every op checks its
// operands' shapes against the geometry (`check_dims`, `Geom::new`, `dims4`) before any loop
// runs, and the loops' ranges are products of those checked dimensions. Bounds-checked `get`s
// in the per-element loops would cost speed for nothing; a bug here fails a test in
// tests/conv.rs, tests/pool.rs or tests/linear.rs (they compare against candle's own ops).
#![allow(clippy::indexing_slicing)]

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

/// The elements of a contiguous tensor's storage; `what` names the op in the error.
pub(crate) fn contiguous<'a, T: WithDType>(s: &'a [T], l: &Layout, what: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => s.get(a..b).ok_or_else(|| candle_core::Error::Msg(format!("{what}: layout outside its storage"))),
        None => candle_core::bail!("{what}: its inputs must be contiguous"),
    }
}

/// The f32 elements of a contiguous storage; `what` names the op in the error.
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match s {
        CpuStorage::F32(v) => contiguous(v, l, what),
        _ => candle_core::bail!("{what}: expects f32 tensors"),
    }
}

/// [`f32_slice`], mutable.
pub(crate) fn f32_slice_mut<'a>(s: &'a mut CpuStorage, l: &Layout, what: &str) -> Result<&'a mut [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => v.get_mut(a..b).ok_or_else(|| candle_core::Error::Msg(format!("{what}: layout outside its storage"))),
        (CpuStorage::F32(_), None) => candle_core::bail!("{what}: its inputs must be contiguous"),
        _ => candle_core::bail!("{what}: expects f32 tensors"),
    }
}

/// Two storages of one float type as slices, or an error naming the op `what`.
macro_rules! float_pair {
    ($what:expr, $s1:expr, $l1:expr, $s2:expr, $l2:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($s1, $s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                let ($a, $b) = (contiguous(a, $l1, $what)?, contiguous(b, $l2, $what)?);
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                let ($a, $b) = (contiguous(a, $l1, $what)?, contiguous(b, $l2, $what)?);
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("{}: tensors must all be f32 or f64", $what),
        }
    };
}
pub(crate) use float_pair;

/// Three storages of one float type as slices (input, weight, bias of a layer op), or an error
/// naming `what`.
macro_rules! float_triple {
    ($what:expr, $s1:expr, $l1:expr, $s2:expr, $l2:expr, $s3:expr, $l3:expr, |$a:ident, $b:ident, $c:ident| $body:expr) => {
        match ($s1, $s2, $s3) {
            (CpuStorage::F32(a), CpuStorage::F32(b), CpuStorage::F32(c)) => {
                let ($a, $b, $c) = (contiguous(a, $l1, $what)?, contiguous(b, $l2, $what)?, contiguous(c, $l3, $what)?);
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(a), CpuStorage::F64(b), CpuStorage::F64(c)) => {
                let ($a, $b, $c) = (contiguous(a, $l1, $what)?, contiguous(b, $l2, $what)?, contiguous(c, $l3, $what)?);
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("{}: input, weight and bias must all be f32 or f64", $what),
        }
    };
}
pub(crate) use float_triple;

/// ReLU in place, in chunks on `threads`.
pub(crate) fn relu_in_place<T: WithDType + Send + Sync>(threads: Threads, v: &mut [T]) {
    for_chunks_mut(threads, v, 1 << 14, |(_, c)| c.iter_mut().for_each(|v| *v = v.max(T::zero())));
}

/// `src (r x c)` -> its transpose `(c x r)`, in parallel over the result's rows.
pub(crate) fn transpose<T: WithDType + Send + Sync>(src: &[T], r: usize, c: usize) -> Vec<T> {
    let mut dst = vec![T::zero(); r * c];
    dst.par_chunks_mut(r.max(1)).enumerate().for_each(|(j, row)| {
        for (v, &s) in row.iter_mut().zip(src.iter().skip(j).step_by(c.max(1))) {
            *v = s;
        }
    });
    dst
}

/// `f(i, chunk)` for every `size`-element chunk of `v`, in parallel or on this thread.
pub(crate) fn for_chunks_mut<T: Send, F: Fn((usize, &mut [T])) + Sync + Send>(threads: Threads, v: &mut [T], size: usize, f: F) {
    match threads {
        Threads::All => v.par_chunks_mut(size).enumerate().for_each(f),
        Threads::One => v.chunks_mut(size).enumerate().for_each(f),
    }
}

/// A layer op's bias input: the bias, or zeros (a constant, so it gets no gradient).
pub(crate) fn bias_or_zeros(bias: Option<&Tensor>, weight: &Tensor) -> Result<Tensor> {
    match bias {
        Some(b) => b.contiguous(),
        None => Tensor::zeros(weight.dim(0)?, weight.dtype(), weight.device()),
    }
}

pub(crate) fn check_dims(what: &str, l: &Layout, expected: &[usize]) -> Result<()> {
    if l.shape().dims() != expected {
        candle_core::bail!("{what}: got shape {:?}, expected {expected:?}", l.shape().dims());
    }
    Ok(())
}

/// `dst (m x n) = [dst +] lhs (m x k) . rhs (k x n)`, each operand given by its column and row
/// strides (so a transposed view costs nothing), multithreaded by `gemm`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_into<T: WithDType>(
    mnk: (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    lhs_strides: (usize, usize),
    rhs: &[T],
    rhs_strides: (usize, usize),
) -> Result<()> {
    matmul_on(Threads::All, mnk, dst, accumulate, lhs, lhs_strides, rhs, rhs_strides)
}

/// Whether an op's loops and GEMMs share the work between rayon's threads ([`Threads::All`]) or
/// run on the calling thread alone ([`Threads::One`]: the op is already one of several parallel
/// workers, each with its own images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    All,
    One,
}

/// [`matmul_into`] on `threads`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_on<T: WithDType>(
    threads: Threads,
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[T],
    (rhs_cs, rhs_rs): (usize, usize),
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::zero());
        }
        return Ok(());
    }
    let last = |cs: usize, rs: usize, r: usize, c: usize| (r - 1) * rs + (c - 1) * cs;
    // The strides must stay inside the slices (gemm reads through raw pointers).
    if !(dst.len() > last(1, n, m, n) && lhs.len() > last(lhs_cs, lhs_rs, m, k) && rhs.len() > last(rhs_cs, rhs_rs, k, n)) {
        candle_core::bail!(
            "matmul ({m} x {k}) . ({k} x {n}): operands of {} / {} / {} elements are too short for their strides",
            lhs.len(),
            rhs.len(),
            dst.len()
        );
    }
    // SAFETY: the three slices are valid for every (row, column) the strides reach (checked
    // above), and `dst` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m, n, k,
            dst.as_mut_ptr(), 1, n as isize, accumulate,
            lhs.as_ptr(), lhs_cs as isize, lhs_rs as isize,
            rhs.as_ptr(), rhs_cs as isize, rhs_rs as isize,
            T::one(), T::one(), false, false, false,
            match threads {
                Threads::All => gemm::Parallelism::Rayon(0),
                Threads::One => gemm::Parallelism::None,
            },
        );
    }
    Ok(())
}

/// `(grad, y) -> grad` where `y > 0`, else 0: ReLU's backward from its output, in one pass.
pub(crate) struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "alexnet-lab-relu-mask"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        check_dims("relu backward", l2, l1.shape().dims())?;
        let out = float_pair!(self.name(), s1, l1, s2, l2, |grad, y| {
            let zero = Default::default();
            grad.par_iter().zip(y).map(|(&g, &y)| if y > zero { g } else { zero }).collect()
        });
        Ok((out, l1.shape().clone()))
    }
}


/// `(n, o, ...) -> (o,)`: the sum over every dimension but the second (a bias gradient), in
/// contiguous runs (candle's multi-dimension sum computes an index with two divisions per
/// element: ~6% of a training step at 224x224).
pub(crate) struct SumToChannels;

impl SumToChannels {
    fn run<T: WithDType + Send + Sync>(x: &[T], n: usize, o: usize, rest: usize) -> Vec<T> {
        (0..o)
            .into_par_iter()
            .map(|c| {
                let mut acc = T::zero();
                for b in 0..n {
                    let run = &x[(b * o + c) * rest..(b * o + c + 1) * rest];
                    acc += run.iter().fold(T::zero(), |a, &v| a + v);
                }
                acc
            })
            .collect()
    }
}

impl candle_core::CustomOp1 for SumToChannels {
    fn name(&self) -> &'static str {
        "alexnet-lab-sum-to-channels"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = l.shape().dims();
        if dims.len() < 2 {
            candle_core::bail!("sum to channels: got shape {dims:?}, expected (n, channels, ...)");
        }
        let (n, o, rest) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(Self::run(contiguous(v, l, self.name())?, n, o, rest)),
            CpuStorage::F64(v) => CpuStorage::F64(Self::run(contiguous(v, l, self.name())?, n, o, rest)),
            _ => candle_core::bail!("{}: tensors must all be f32 or f64", self.name()),
        };
        Ok((out, Shape::from(o)))
    }
}
