//! Winograd's minimal filtering, F(m×m, r×r), for the stride-1 convolutions (AlexNet's conv2-5):
//! fewer multiplications than im2col + GEMM, which does all `k²` per output.
//!
//! One output tile of `m×m` from a `t×t` input tile (`t = m + r - 1`) and an `r×r` filter is
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016): `t²` multiplications instead of `m²·r²`. Over channels the `⊙` becomes `t²`
//! independent GEMMs, one per position `ξ` of the transformed tile, `(out channels × in
//! channels) · (in channels × tiles)`: the GEMMs keep their speed and shrink by `m²r²/t²`
//! (F(3×3, 3×3), conv3-5 on the 3×3 maps of an 80×80 image: 81/25 = 3.2x; F(4×4, 5×5), conv2
//! on its 8×8 maps: 400/64 = 6.25x).
//!
//! The matrices are built here, not typed in, by the Cook-Toom construction: evaluate at the
//! points 0, 1, -1, 2, -2, 1/2, -1/2 (as many as `t - 1` needs) and infinity, multiply,
//! interpolate. `t` stays at most [`MAX_TILE`] = 8: in f32 a tile of F(4×4, 5×5) (t = 8) was off
//! by ~5e-6 on average from the exact sum, for inputs and weights in [-1, 1], against ~2e-7 for
//! the direct sum (300 random tiles in numpy's float32, 2026-12-03); `tests/winograd.rs` holds the
//! layers to 2e-5 of candle. Larger tiles need larger points, and the error grows fast.
//!
//! The backward pass is Winograd too. A forward that will be backpropagated keeps its
//! transformed weights `U` and input tiles `V` ([`Kept`], while the batch fits one group); from
//! the output gradient's transform `Z = A dY Aᵀ` ([`transform_grad`], once for both):
//! - input gradient ([`grad_input_kept`]): `B [Σ_o U ⊙ Z] Bᵀ` per tile, added where tiles overlap;
//! - weight gradient ([`grad_weight_kept`]): `Gᵀ [Σ_tiles Z ⊙ V] G`.
//!
//! Without them (larger batches, in groups): the input gradient is the forward of the flipped,
//! transposed weights, padded by `k - 1 - pad` ([`grad_input`]), and the weight gradient is
//! F(k×k, b×b) with the output gradient's `b×b` blocks as the filters ([`grad_weight`]).
//!
//! Transforms apply each matrix by its nonzero entries to 16 tiles side by side (the input copied
//! image-innermost first, so one window position of 16 images is one run), compiled for AVX-512
//! or AVX2 where the CPU has it. At AlexNet's small maps they still cost about as much as the
//! GEMMs (docs/performance.md): the transforms of weight-sized tensors are memory-bound. The
//! batch goes through in groups whose transformed tiles stay under 64 MB.

// Indexing in the loops is in bounds by construction: every slice's length is a product of the
// dimensions the callers checked (conv.rs: `check_dims`, `Geom::new`) and of the tile counts
// computed here; a bug fails tests/conv.rs, which compares against candle's conv2d.
#![allow(clippy::indexing_slicing)]

use candle_core::{Result, WithDType};
use rayon::prelude::*;

use super::cpu::{matmul_on, Threads};

/// The largest transformed tile, `t = m + r - 1`.
pub const MAX_TILE: usize = 8;

/// The cost model that chooses each layer's tile ([`Conv::forward_tile`]) counts time in floating
/// point operations of a Winograd GEMM. A byte of a weight-sized pass (the transformed weights
/// `U` written and read, the weight gradient's `M` written and read: `t²·o·c` values each) costs
/// this many: the transforms of weight-sized tensors are memory-bound, and at small batches they
/// outweigh the GEMMs they shrink. Fitted on 2 cores of an AMD EPYC (Zen 4) from the per-layer
/// times of `examples/conv_layers.rs` at 80/64 and 96/16 (2026-12-03): the Winograd GEMMs ran
/// at about 150 GFLOP/s and the weight-sized passes at about 6 GB/s. A rough model: it leaves
/// out that the direct convolution's small GEMMs slow down too. Checked interleaved
/// (`conv_layers ... winograd`) where it decides: direct for conv2-5 on one 80x80 image was
/// 1.9x faster than Winograd, on four 96x96 images 1.2x; at batch 16 its choices and the
/// alternatives were within 2% (docs/performance.md).
const FLOPS_PER_WEIGHT_BYTE: f64 = 25.0;

/// im2col + GEMM ran at about 1/1.36 of the Winograd GEMMs' speed per operation (the same fit):
/// the direct convolution's cost is its operations times this.
const DIRECT_SLOWDOWN: f64 = 1.36;

/// Layers with fewer input or output channels than this stay direct: their GEMMs are too thin
/// for the transforms to pay (LeNet's first convolution has 1 and 6).
const MIN_CHANNELS: usize = 16;

/// The transformed tiles of one group of images (input and output side together) stay under
/// this size. A forward whose whole batch fits keeps them for its backward ([`Kept`]): conv2 at
/// 96x96, batch 64, needs 52 MB (its 10x10 maps in 3x3 tiles of F(4x4, 5x5)); with 48 MB it
/// went in two groups, and its backward transformed the weights and the input again
/// (1.10x on the whole training step, 8 interleaved rounds, 2026-12-03).
const GROUP_BYTES: usize = 64 << 20;

/// The finite points the polynomials are evaluated at, in the order they are taken.
const POINTS: [f64; MAX_TILE - 1] = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5];

/// The matrices of F(m, r): `y = Aᵀ [(G g) ⊙ (Bᵀ d)]` for `y_i = Σ_k d_{i+k} g_k`, `i < m`, `k < r`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub m: usize,
    pub r: usize,
    pub t: usize,
    /// `Aᵀ`, `m × t`, row-major.
    pub at: Vec<f64>,
    /// `G`, `t × r`.
    pub g: Vec<f64>,
    /// `Bᵀ`, `t × t`.
    pub bt: Vec<f64>,
}

impl Transform {
    /// F(m, r), or None when `m + r - 1` is not in `2..=MAX_TILE`.
    ///
    /// Cook-Toom: the linear convolution `s = g * h` (length `t`) is `C [(V_g g) ⊙ (V_h h)]`,
    /// with `V_x` evaluating a polynomial at the points and at infinity (its leading
    /// coefficient) and `C` the inverse of the `t × t` evaluation. The correlation `y` is the
    /// transpose of `h ↦ s`: `y = V_hᵀ [(V_g g) ⊙ (Cᵀ d)]`, so `Aᵀ = V_hᵀ`, `G = V_g`, `Bᵀ = Cᵀ`.
    pub fn new(m: usize, r: usize) -> Option<Self> {
        let t = (m + r).checked_sub(1)?;
        if m == 0 || r == 0 || !(2..=MAX_TILE).contains(&t) {
            return None;
        }
        let eval = |cols: usize| -> Vec<f64> {
            let mut v = vec![0.0; t * cols];
            for (i, &p) in POINTS.iter().take(t - 1).enumerate() {
                for j in 0..cols {
                    v[i * cols + j] = p.powi(j as i32);
                }
            }
            v[(t - 1) * cols + cols - 1] = 1.0;
            v
        };
        let c = invert(eval(t), t)?;
        let vh = eval(m);
        Some(Self { m, r, t, at: transposed(&vh, t, m), g: eval(r), bt: transposed(&c, t, t) })
    }
}

/// `a (r × c)` transposed.
fn transposed(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..c * r).map(|i| a[(i % r) * c + i / r]).collect()
}

/// The inverse of the `n × n` matrix `a` (Gauss-Jordan with partial pivoting), None if singular.
fn invert(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    let mut inv: Vec<f64> = (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-12 {
            return None;
        }
        for j in 0..n {
            a.swap(col * n + j, piv * n + j);
            inv.swap(col * n + j, piv * n + j);
        }
        let d = a[col * n + col];
        for j in 0..n {
            a[col * n + j] /= d;
            inv[col * n + j] /= d;
        }
        for i in (0..n).filter(|&i| i != col) {
            let f = a[i * n + col];
            for j in 0..n {
                a[i * n + j] -= f * a[col * n + j];
                inv[i * n + j] -= f * inv[col * n + j];
            }
        }
    }
    Some(inv)
}

/// Tiles transformed together: each step of a transform is one multiply-add over this many
/// tiles side by side (a vector instruction or two), instead of one tile's scalar loop.
const LANES: usize = 16;

/// `dst[..n] = src[..n]`, `n` the shorter length (at most [`LANES`]): a whole group of lanes
/// as one array move (a call to `memcpy` per group cost more than the copy).
#[inline(always)]
fn put<T: Copy>(dst: &mut [T], src: &[T]) {
    if let (Ok(d), Ok(s)) = (<&mut [T; LANES]>::try_from(&mut *dst), <&[T; LANES]>::try_from(src)) {
        *d = *s;
        return;
    }
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
}

/// A transform matrix `L` (`rows × cols`) by rows, each row its nonzero entries `(column, value)`
/// (Winograd's matrices are about half zeros).
struct Sparse<T> {
    rows: usize,
    cols: usize,
    nz: Vec<Vec<(usize, T)>>,
}

impl<T: WithDType> Sparse<T> {
    fn new(l: &[f64], rows: usize, cols: usize) -> Self {
        let nz = (0..rows)
            .map(|i| (0..cols).filter(|&j| l[i * cols + j] != 0.0).map(|j| (j, T::from_f64(l[i * cols + j]))).collect())
            .collect();
        Self { rows, cols, nz }
    }

    /// `out (rows × rows) = L · D (cols × cols) · Lᵀ` for [`LANES`] tiles at once: `d`, `tmp`
    /// (`rows × cols`) and `out` hold each entry's lanes side by side.
    fn sandwich(&self, d: &[T], tmp: &mut [T], out: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the feature the function is compiled for (checked above).
                return unsafe { self.sandwich_avx512(d, tmp, out) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { self.sandwich_avx2(d, tmp, out) };
            }
        }
        self.sandwich_any(d, tmp, out)
    }

    /// [`Sparse::sandwich`] compiled for AVX-512 (one instruction per lane group of f32).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn sandwich_avx512(&self, d: &[T], tmp: &mut [T], out: &mut [T]) {
        self.sandwich_any(d, tmp, out)
    }

    /// [`Sparse::sandwich`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn sandwich_avx2(&self, d: &[T], tmp: &mut [T], out: &mut [T]) {
        self.sandwich_any(d, tmp, out)
    }

    /// [`Sparse::sandwich`] for whatever the build targets (SSE2 on x86-64).
    #[inline(always)]
    fn sandwich_any(&self, d: &[T], tmp: &mut [T], out: &mut [T]) {
        let (r, c) = (self.rows, self.cols);
        let (d, tmp, out) = (d.as_chunks::<LANES>().0, tmp.as_chunks_mut::<LANES>().0, out.as_chunks_mut::<LANES>().0);
        for i in 0..r {
            for b in 0..c {
                let mut acc = [T::zero(); LANES];
                for &(a, v) in &self.nz[i] {
                    let x = &d[a * c + b];
                    for l in 0..LANES {
                        acc[l] += v * x[l];
                    }
                }
                tmp[i * c + b] = acc;
            }
        }
        for i in 0..r {
            for j in 0..r {
                let mut acc = [T::zero(); LANES];
                for &(b, v) in &self.nz[j] {
                    let x = &tmp[i * c + b];
                    for l in 0..LANES {
                        acc[l] += v * x[l];
                    }
                }
                out[i * r + j] = acc;
            }
        }
    }

    /// Scratch for [`Sparse::sandwich`]: `(d, tmp, out)`.
    fn scratch(&self) -> (Vec<T>, Vec<T>, Vec<T>) {
        let (r, c) = (self.rows, self.cols);
        (vec![T::zero(); c * c * LANES], vec![T::zero(); r * c * LANES], vec![T::zero(); r * r * LANES])
    }
}

/// A stride-1 convolution `(n, c, h, w) * (o, c, k, k) -> (n, o, oh, ow)` with zero padding `pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub pad: usize,
    /// The transformed tiles of one group of images stay under this many bytes.
    pub group_bytes: usize,
    /// Winograd wherever a tile fits, even where the cost model prefers the direct
    /// convolution ([`crate::kernels::Kernels::Winograd`]); false by default.
    pub always: bool,
}

impl Conv {
    pub fn new(n: usize, c: usize, h: usize, w: usize, o: usize, k: usize, pad: usize) -> Self {
        Self { n, c, h, w, o, k, pad, group_bytes: GROUP_BYTES, always: false }
    }

    /// The output's `(oh, ow)` (0 where the kernel does not fit the padded input).
    pub fn out(&self) -> (usize, usize) {
        ((self.h + 2 * self.pad + 1).saturating_sub(self.k), (self.w + 2 * self.pad + 1).saturating_sub(self.k))
    }

    /// An error unless the geometry is a convolution and every operand has its size.
    fn check(&self, what: &str, operands: &[(&str, usize, usize)]) -> Result<()> {
        let (oh, ow) = self.out();
        if self.k == 0 || self.c == 0 || self.o == 0 || oh == 0 || ow == 0 {
            candle_core::bail!("winograd {what}: no convolution of {self:?} (a kernel, channels and an output are needed)");
        }
        for &(name, got, expected) in operands {
            if got != expected {
                candle_core::bail!("winograd {what}: the {name} has {got} elements, expected {expected} for {self:?}");
            }
        }
        Ok(())
    }

    /// The forward's output tile `m`, when Winograd pays here: for a forward that will be
    /// backpropagated (`train`, its three passes counted) or for one alone.
    pub fn forward_tile(&self, train: bool) -> Option<usize> {
        self.wide().then(|| self.best_tile(train)).flatten()
    }

    /// Both channel counts at least [`MIN_CHANNELS`].
    fn wide(&self) -> bool {
        self.c.min(self.o) >= MIN_CHANNELS
    }

    /// The input gradient's output tile (it is the forward of the flipped convolution), when
    /// Winograd pays and the padding allows it (`pad < k`).
    pub fn grad_input_tile(&self) -> Option<usize> {
        (self.pad < self.k).then(|| self.flipped().forward_tile(true)).flatten()
    }

    /// The weight gradient's block of output gradient `b` (the filter of F(k×k, b×b)), when
    /// Winograd pays.
    pub fn grad_weight_block(&self) -> Option<usize> {
        // F(k×k, b×b) has t = b + k - 1, as the forward's F(m×m, k×k) has t = m + k - 1: the
        // same cost over the same output decides both.
        self.forward_tile(true)
    }

    /// The input gradient as a forward convolution: of the output gradient `(n, o, oh, ow)`
    /// with the flipped, transposed weight `(c, o, k, k)`, padded by `k - 1 - pad`.
    fn flipped(&self) -> Conv {
        let (oh, ow) = self.out();
        Conv { c: self.o, h: oh, w: ow, o: self.c, pad: self.k - 1 - self.pad, ..*self }
    }

    /// Images per group: their transformed tiles (`per_image` elements of `T` each) under `group_bytes`.
    fn group<T>(&self, per_image: usize) -> usize {
        (self.group_bytes / (per_image * std::mem::size_of::<T>()).max(1)).clamp(1, self.n.max(1))
    }
}

impl Conv {
    /// The modelled cost of this layer with output tiles of `m` (None: the direct convolution),
    /// in operations of a Winograd GEMM ([`FLOPS_PER_WEIGHT_BYTE`], [`DIRECT_SLOWDOWN`]): one
    /// pass (`train` false) or the forward and both gradients.
    ///
    /// Winograd: `t²` GEMMs of `(o × c) · (c × n·tiles)` per pass, plus its weight-sized passes
    /// (2 for a forward: `U` written and read; 5 for training: `U` read again by the input
    /// gradient, the weight gradient's `M` written and read). The activation-sized transforms
    /// are left out: they grow with the batch like the GEMMs. Direct: `2·o·c·k²·n·oh·ow` per pass.
    pub fn modelled_cost(&self, m: Option<usize>, train: bool) -> f64 {
        let (oh, ow) = self.out();
        let passes = if train { 3.0 } else { 1.0 };
        let (n, c, o, k) = (self.n as f64, self.c as f64, self.o as f64, self.k as f64);
        match m {
            None => passes * 2.0 * o * c * k * k * n * (oh * ow) as f64 * DIRECT_SLOWDOWN,
            Some(m) => {
                let t = (m + self.k - 1) as f64;
                let tiles = (oh.div_ceil(m.max(1)) * ow.div_ceil(m.max(1))) as f64;
                let weight_passes = if train { 5.0 } else { 2.0 };
                passes * 2.0 * t * t * o * c * n * tiles + FLOPS_PER_WEIGHT_BYTE * weight_passes * 4.0 * t * t * o * c
            }
        }
    }

    /// The tile `m` (`t = m + k - 1 ≤ MAX_TILE`) of the lowest [`Conv::modelled_cost`], None
    /// when the direct convolution costs less (unless [`Conv::always`]) or no tile fits
    /// (`k < 2`, or `k > MAX_TILE - 1`).
    fn best_tile(&self, train: bool) -> Option<usize> {
        let (oh, ow) = self.out();
        if self.k < 2 || oh == 0 || ow == 0 {
            return None;
        }
        let cost = |m: Option<usize>| self.modelled_cost(m, train);
        // m ≥ 2 and t = m + k - 1 ≤ MAX_TILE (none for kernels over MAX_TILE - 1)
        let m = (2..=(MAX_TILE + 1).saturating_sub(self.k)).min_by(|&a, &b| cost(Some(a)).total_cmp(&cost(Some(b))))?;
        (self.always || cost(Some(m)) < cost(None)).then_some(m)
    }
}

/// `src (a0, a1, hw)` with the index that is not `outer` moved last: `(a1, hw, a0)` when
/// `outer_is_second`, else `(a0, hw, a1)`. The transforms then read one window position of
/// [`LANES`] images (or channels) as one contiguous run.
fn inner_last<T: WithDType + Send + Sync>(src: &[T], (a0, a1, hw): (usize, usize, usize), outer_is_second: bool) -> Vec<T> {
    let inner = if outer_is_second { a0 } else { a1 };
    let mut dst = vec![T::zero(); src.len()];
    dst.par_chunks_mut(hw * inner).enumerate().for_each(|(oi, block)| {
        for ii in 0..inner {
            let plane = if outer_is_second { ii * a1 + oi } else { oi * a1 + ii };
            for (e, &v) in src[plane * hw..(plane + 1) * hw].iter().enumerate() {
                block[e * inner + ii] = v;
            }
        }
    });
    dst
}

/// `src (rows, cols)` transposed into `dst (cols, rows)`, in parallel over `dst`'s rows: an
/// `(o, oh, ow, n)` result back to `(n, o, oh, ow)`.
fn inner_first<T: WithDType + Send + Sync>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    dst.par_chunks_mut(rows).enumerate().for_each(|(j, row)| {
        for (v, &x) in row.iter_mut().zip(src.iter().skip(j).step_by(cols)) {
            *v = x;
        }
    });
}

/// `L M Lᵀ` for every tile of row `row` of `M [ξ][rows][tiles · imgs]` (columns tile-major),
/// [`LANES`] images side by side: `f(tile, first image, images, result)`, the result holding
/// each entry's lanes side by side.
fn each_inverse<T: WithDType>(
    l: &Sparse<T>,
    mm: &[T],
    (rows, row): (usize, usize),
    (tiles, imgs): (usize, usize),
    mut f: impl FnMut(usize, usize, usize, &[T]),
) {
    let (tt, p) = (l.cols * l.cols, tiles * imgs);
    let (mut d, mut tmp, mut res) = l.scratch();
    for tile in 0..tiles {
        for b0 in (0..imgs).step_by(LANES) {
            let (len, col0) = (LANES.min(imgs - b0), tile * imgs + b0);
            for xi in 0..tt {
                let at = (xi * rows + row) * p + col0;
                put(&mut d[xi * LANES..(xi + 1) * LANES], &mm[at..at + len]);
            }
            l.sandwich(&d, &mut tmp, &mut res);
            f(tile, b0, len, &res);
        }
    }
}

/// Windows of `src` planes, transformed: for every plane `(i0, i1)` of `src (a0, a1, h, w)` and
/// every window `(ty, tx)` of a `th × tw` grid (the `s × s` pixels from `(ty·step - offset,
/// tx·step - offset)`, 0 outside the plane), `L · window · Lᵀ` (`t × t`, `L` is `t × s`),
/// written to `out [outer][ξ][window · inner + inner index]`, where `outer` is `i1` when
/// `outer_is_second`, else `i0`, and `inner` the other. Columns are window-major, so
/// [`LANES`] consecutive columns are one window of consecutive images (or channels).
#[allow(clippy::too_many_arguments)]
fn transform_windows<T: WithDType + Send + Sync>(
    src: &[T],
    (a0, a1, h, w): (usize, usize, usize, usize),
    outer_is_second: bool,
    l: &Sparse<T>,
    step: usize,
    offset: usize,
    (th, tw): (usize, usize),
    out: &mut [T],
) {
    let (inner, t, s) = (if outer_is_second { a0 } else { a1 }, l.rows, l.cols);
    let p = inner * th * tw;
    let src = inner_last(src, (a0, a1, h * w), outer_is_second);
    out.par_chunks_mut(t * t * p).enumerate().for_each(|(oi, chunk)| {
        let block = &src[oi * h * w * inner..(oi + 1) * h * w * inner];
        let (mut d, mut tmp, mut res) = l.scratch();
        for tile in 0..th * tw {
            let (ty, tx) = (tile / tw, tile % tw);
            // The window's columns inside the plane: b in lo..hi, at x = x0 + b - offset.
            let x0 = tx * step;
            let (lo, hi) = (offset.saturating_sub(x0), (w + offset).saturating_sub(x0).min(s));
            for ii0 in (0..inner).step_by(LANES) {
                let len = LANES.min(inner - ii0);
                for a in 0..s {
                    let y = (ty * step + a).wrapping_sub(offset);
                    for b in 0..s {
                        let lanes = &mut d[(a * s + b) * LANES..(a * s + b + 1) * LANES];
                        if y < h && (lo..hi).contains(&b) {
                            let at = (y * w + x0 + b - offset) * inner + ii0;
                            put(lanes, &block[at..at + len]);
                        } else {
                            put(lanes, &[T::zero(); LANES]);
                        }
                    }
                }
                l.sandwich(&d, &mut tmp, &mut res);
                let col0 = tile * inner + ii0;
                for (xi, lanes) in res.chunks(LANES).enumerate() {
                    put(&mut chunk[xi * p + col0..xi * p + col0 + len], lanes);
                }
            }
        }
    });
}

/// `relu(conv(x, w) + bias)` (stride 1) with output tiles of `m × m`: `(n, c, h, w)`,
/// `(o, c, k, k)`, `(o,)` -> `(n, o, oh, ow)`.
pub fn forward<T: WithDType + Send + Sync>(x: &[T], wt: &[T], bias: Option<&[T]>, relu: bool, cv: &Conv, m: usize) -> Result<Vec<T>> {
    Ok(forward_keep(x, wt, bias, relu, cv, m, false)?.0)
}

/// What a forward keeps for its backward ([`grad_input_kept`], [`grad_weight_kept`]): the
/// transformed weights `U [o][ξ][c]` and input tiles `V [c][ξ][n·tiles]`, which the backward
/// would otherwise compute again (for the input gradient, of the flipped weights).
#[derive(Debug, Clone)]
pub struct Kept<T> {
    cv: Conv,
    m: usize,
    u: Vec<T>,
    v: Vec<T>,
}

impl<T> Kept<T> {
    /// The convolution it was kept from.
    pub fn conv(&self) -> Conv {
        self.cv
    }
}

/// [`forward`], and with `keep` (and the whole batch in one group) what its backward reuses.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_keep<T: WithDType + Send + Sync>(
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    relu: bool,
    cv: &Conv,
    m: usize,
    keep: bool,
) -> Result<(Vec<T>, Option<Kept<T>>)> {
    let Some(tr) = Transform::new(m, cv.k) else {
        candle_core::bail!("winograd: no transform F({m}, {}) with tiles of at most {MAX_TILE}", cv.k)
    };
    let (Conv { n, c, h, w, o, k, pad, .. }, (oh, ow), t) = (*cv, cv.out(), tr.t);
    let bias_len = bias.map_or(o, <[T]>::len);
    cv.check("forward", &[("input", x.len(), n * c * h * w), ("weight", wt.len(), o * c * k * k), ("bias", bias_len, o)])?;
    let (th, tw, tt) = (oh.div_ceil(m), ow.div_ceil(m), t * t);
    let tiles = th * tw;
    // U [o][ξ][c]
    let mut u = vec![T::zero(); o * tt * c];
    transform_windows(wt, (o, c, k, k), false, &Sparse::new(&tr.g, t, k), k, 0, (1, 1), &mut u);
    let group = cv.group::<T>((c + o) * tt * tiles);
    let keep = keep && group == n;
    let mut v = vec![T::zero(); c * tt * group * tiles];
    let mut mm = vec![T::zero(); tt * o * group * tiles];
    let mut yt = vec![T::zero(); o * group * oh * ow];
    let mut y = vec![T::zero(); n * o * oh * ow];
    let (bt, at) = (Sparse::new(&tr.bt, t, t), Sparse::new(&tr.at, m, t));
    for (xg, yg) in x.chunks(group * c * h * w).zip(y.chunks_mut(group * o * oh * ow)) {
        let p = xg.len() / (c * h * w) * tiles;
        let v = &mut v[..c * tt * p];
        transform_windows(xg, (p / tiles, c, h, w), true, &bt, m, pad, (th, tw), v);
        let mm = &mut mm[..tt * o * p];
        mm.par_chunks_mut(o * p).enumerate().try_for_each(|(xi, dst)| {
            // M_ξ (o × p) = U_ξ (o × c) · V_ξ (c × p)
            matmul_on(Threads::One, (o, p, c), dst, false, &u[xi * c..], (1, tt * c), &v[xi * p..], (1, tt * p))
        })?;
        // Y = Aᵀ M A per output tile, LANES images side by side (LANES columns of each M_ξ's
        // row), one output channel per task, into yt (o, oh, ow, images); then into y.
        let (mm, imgs) = (&*mm, p / tiles);
        let yt = &mut yt[..o * imgs * oh * ow];
        yt.par_chunks_mut(oh * ow * imgs).enumerate().for_each(|(co, ys)| {
            let bias = bias.map_or(T::zero(), |b| b[co]);
            each_inverse(&at, mm, (o, co), (tiles, imgs), |tile, b0, len, res| {
                let (ty, tx) = (tile / tw, tile % tw);
                for i in 0..m.min(oh - ty * m) {
                    for j in 0..m.min(ow - tx * m) {
                        let at = ((ty * m + i) * ow + tx * m + j) * imgs + b0;
                        for (y, &v) in ys[at..at + len].iter_mut().zip(&res[(i * m + j) * LANES..]) {
                            let v = v + bias;
                            *y = if relu { v.max(T::zero()) } else { v };
                        }
                    }
                }
            });
        });
        inner_first(yt, o * oh * ow, imgs, yg);
    }
    Ok((y, keep.then_some(Kept { cv: *cv, m, u, v })))
}

/// The input gradient `(n, c, h, w)` of a stride-1 convolution from its output gradient
/// `(n, o, oh, ow)` and weight `(o, c, k, k)`, with output tiles of `m × m` (see
/// [`Conv::grad_input_tile`]).
pub fn grad_input<T: WithDType + Send + Sync>(grad: &[T], wt: &[T], cv: &Conv, m: usize) -> Result<Vec<T>> {
    let (Conv { n, c, o, k, pad, .. }, kk, (oh, ow)) = (*cv, cv.k * cv.k, cv.out());
    cv.check("input gradient", &[("output gradient", grad.len(), n * o * oh * ow), ("weight", wt.len(), o * c * kk)])?;
    if pad >= k {
        candle_core::bail!("winograd input gradient: padding {pad} is not below the kernel size {k}");
    }
    // w' [ci][co][a][b] = w [co][ci][k-1-a][k-1-b]
    let mut flipped = vec![T::zero(); c * o * kk];
    flipped.par_chunks_mut(o * kk).enumerate().for_each(|(ci, dst)| {
        for co in 0..o {
            let src = &wt[(co * c + ci) * kk..(co * c + ci + 1) * kk];
            for (d, &s) in dst[co * kk..(co + 1) * kk].iter_mut().zip(src.iter().rev()) {
                *d = s;
            }
        }
    });
    forward(grad, &flipped, None, false, &cv.flipped(), m)
}

/// The weight gradient `(o, c, k, k)` of a stride-1 convolution, summed over the batch, from
/// its input `(n, c, h, w)` and output gradient `(n, o, oh, ow)`, cut into `b × b` blocks.
pub fn grad_weight<T: WithDType + Send + Sync>(x: &[T], grad: &[T], cv: &Conv, b: usize) -> Result<Vec<T>> {
    let Some(tr) = Transform::new(cv.k, b) else {
        candle_core::bail!("winograd: no transform F({}, {b}) with tiles of at most {MAX_TILE}", cv.k)
    };
    let (Conv { n, c, h, w, o, k, pad, .. }, (oh, ow), t) = (*cv, cv.out(), tr.t);
    cv.check("weight gradient", &[("input", x.len(), n * c * h * w), ("output gradient", grad.len(), n * o * oh * ow)])?;
    let (th, tw, tt) = (oh.div_ceil(b), ow.div_ceil(b), t * t);
    let tiles = th * tw;
    let group = cv.group::<T>((c + o) * tt * tiles);
    let mut vx = vec![T::zero(); c * tt * group * tiles];
    let mut vg = vec![T::zero(); o * tt * group * tiles];
    let mut mw = vec![T::zero(); tt * o * c];
    let (bt, g) = (Sparse::new(&tr.bt, t, t), Sparse::new(&tr.g, t, b));
    for (i, (xg, gg)) in x.chunks(group * c * h * w).zip(grad.chunks(group * o * oh * ow)).enumerate() {
        let imgs = xg.len() / (c * h * w);
        let p = imgs * tiles;
        let vx = &mut vx[..c * tt * p];
        transform_windows(xg, (imgs, c, h, w), true, &bt, b, pad, (th, tw), vx);
        let vg = &mut vg[..o * tt * p];
        transform_windows(gg, (imgs, o, oh, ow), true, &g, b, 0, (th, tw), vg);
        let (vx, vg) = (&*vx, &*vg);
        mw.par_chunks_mut(o * c).enumerate().try_for_each(|(xi, dst)| {
            // M_ξ (o × c) [+]= G_ξ (o × p) · X_ξᵀ (p × c)
            matmul_on(Threads::One, (o, c, p), dst, i > 0, &vg[xi * p..], (1, tt * p), &vx[xi * p..], (tt * p, 1))
        })?;
    }
    Ok(inverse_weights(&mw, &Sparse::new(&tr.at, k, t), o, c))
}

/// The output gradient's `m × m` blocks transformed, `Z = A dY Aᵀ` (`t × t`), as
/// `[o][ξ][n·tiles]`: what both kept backward passes ([`grad_input_kept`],
/// [`grad_weight_kept`]) start from, computed once for both.
pub fn transform_grad<T: WithDType + Send + Sync>(grad: &[T], kept: &Kept<T>) -> Result<Vec<T>> {
    let tr = kept_transform(kept)?;
    let (Conv { n, o, .. }, (oh, ow), m, t) = (kept.cv, kept.cv.out(), kept.m, tr.t);
    kept.cv.check("backward", &[("output gradient", grad.len(), n * o * oh * ow)])?;
    let (th, tw) = (oh.div_ceil(m), ow.div_ceil(m));
    let mut z = vec![T::zero(); o * t * t * n * th * tw];
    transform_windows(grad, (n, o, oh, ow), true, &Sparse::new(&transposed(&tr.at, m, t), t, m), m, 0, (th, tw), &mut z);
    Ok(z)
}

/// The forward's transform, checked against what was kept.
fn kept_transform<T>(kept: &Kept<T>) -> Result<Transform> {
    let Some(tr) = Transform::new(kept.m, kept.cv.k) else {
        candle_core::bail!("winograd: no transform F({}, {}) with tiles of at most {MAX_TILE}", kept.m, kept.cv.k)
    };
    let (Conv { n, c, o, .. }, (oh, ow), tt) = (kept.cv, kept.cv.out(), tr.t * tr.t);
    let p = n * oh.div_ceil(kept.m) * ow.div_ceil(kept.m);
    if kept.u.len() != o * tt * c || kept.v.len() != c * tt * p {
        candle_core::bail!("winograd backward: the kept tiles do not match {:?}", kept.cv);
    }
    Ok(tr)
}

/// [`kept_transform`], with `z` checked to be the output gradient's transform ([`transform_grad`]).
fn kept_transform_z<T>(z: &[T], kept: &Kept<T>) -> Result<Transform> {
    let tr = kept_transform(kept)?;
    let (Conv { n, o, .. }, (oh, ow), m) = (kept.cv, kept.cv.out(), kept.m);
    let expected = o * tr.t * tr.t * n * oh.div_ceil(m) * ow.div_ceil(m);
    if z.len() != expected {
        candle_core::bail!("winograd backward: the transformed output gradient has {} elements, expected {expected}", z.len());
    }
    Ok(tr)
}

/// The input gradient `(n, c, h, w)` from the output gradient's transform `z` ([`transform_grad`])
/// and what the forward kept: `dD = B [Σ_o U ⊙ Z] Bᵀ` per input tile, added up where the tiles
/// overlap.
pub fn grad_input_kept<T: WithDType + Send + Sync>(z: &[T], kept: &Kept<T>) -> Result<Vec<T>> {
    let tr = kept_transform_z(z, kept)?;
    let (Conv { n, c, h, w, o, pad, .. }, (oh, ow), m, t) = (kept.cv, kept.cv.out(), kept.m, tr.t);
    let (th, tw, tt) = (oh.div_ceil(m), ow.div_ceil(m), t * t);
    let (tiles, u) = (th * tw, &kept.u);
    let p = n * tiles;
    // N_ξ (c × p) = U_ξᵀ (c × o) · Z_ξ (o × p)
    let mut nn = vec![T::zero(); tt * c * p];
    nn.par_chunks_mut(c * p).enumerate().try_for_each(|(xi, dst)| {
        matmul_on(Threads::One, (c, p, o), dst, false, &u[xi * c..], (tt * c, 1), &z[xi * p..], (1, tt * p))
    })?;
    // B N Bᵀ per tile, LANES images side by side, one input channel per task, added into
    // dxt (c, h, w, n) where the windows lie; then into dx (n, c, h, w).
    let b = Sparse::new(&transposed(&tr.bt, t, t), t, t);
    let mut dxt = vec![T::zero(); c * h * w * n];
    dxt.par_chunks_mut(h * w * n).enumerate().for_each(|(ci, planes)| {
        each_inverse(&b, &nn, (c, ci), (tiles, n), |tile, b0, len, res| {
            let (ty, tx) = (tile / tw, tile % tw);
            for i in 0..t {
                let y = (ty * m + i).wrapping_sub(pad);
                if y >= h {
                    continue;
                }
                for j in 0..t {
                    let x = (tx * m + j).wrapping_sub(pad);
                    if x < w {
                        let at = (y * w + x) * n + b0;
                        for (g, &v) in planes[at..at + len].iter_mut().zip(&res[(i * t + j) * LANES..]) {
                            *g += v;
                        }
                    }
                }
            }
        });
    });
    let mut dx = vec![T::zero(); n * c * h * w];
    inner_first(&dxt, c * h * w, n, &mut dx);
    Ok(dx)
}

/// The weight gradient `(o, c, k, k)` from the output gradient's transform `z`
/// ([`transform_grad`]) and what the forward kept: `dg = Gᵀ [Σ_tiles Z ⊙ V] G`.
pub fn grad_weight_kept<T: WithDType + Send + Sync>(z: &[T], kept: &Kept<T>) -> Result<Vec<T>> {
    let tr = kept_transform_z(z, kept)?;
    let (Conv { n, c, o, k, .. }, (oh, ow), m, t) = (kept.cv, kept.cv.out(), kept.m, tr.t);
    let (tt, v) = (t * t, &kept.v);
    let p = n * oh.div_ceil(m) * ow.div_ceil(m);
    // M_ξ (o × c) = Z_ξ (o × p) · V_ξᵀ (p × c)
    let mut mw = vec![T::zero(); tt * o * c];
    mw.par_chunks_mut(o * c).enumerate().try_for_each(|(xi, dst)| {
        matmul_on(Threads::One, (o, c, p), dst, false, &z[xi * p..], (1, tt * p), &v[xi * p..], (tt * p, 1))
    })?;
    Ok(inverse_weights(&mw, &Sparse::new(&transposed(&tr.g, t, k), k, t), o, c))
}

/// `dW (o, c, k, k)` from `M [ξ][o][c]`: `L M Lᵀ` per channel pair (`L` is `k × t`), LANES
/// input channels at a time (as one tile of `c` images).
fn inverse_weights<T: WithDType + Send + Sync>(mw: &[T], at: &Sparse<T>, o: usize, c: usize) -> Vec<T> {
    let k = at.rows;
    let mut dw = vec![T::zero(); o * c * k * k];
    dw.par_chunks_mut(c * k * k).enumerate().for_each(|(co, dst)| {
        each_inverse(at, mw, (o, co), (1, c), |_, ci0, len, res| {
            for lane in 0..len {
                for (e, v) in dst[(ci0 + lane) * k * k..(ci0 + lane + 1) * k * k].iter_mut().enumerate() {
                    *v = res[e * LANES + lane];
                }
            }
        });
    });
    dw
}
