//! Which implementation runs a layer: the lab's kernels or candle's stock ops. One choice for
//! the process, made by the program ([`set_kernels`]); the library reads no environment
//! variable for it (the `alexnet-lab` binary reads [`KERNELS_ENV`] at start).

use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::Tensor;

/// The environment variable the `alexnet-lab` binary reads at start: `ALEXNET_LAB_KERNELS=candle`
/// runs candle's stock ops (for benchmarks and comparisons; candle's convolution backward is
/// slow on the CPU, and its max-pool has no backward for AlexNet's 3/2 windows, so the pool
/// stays the lab's); `direct` the lab's with every convolution as im2col + GEMM (no Winograd);
/// `winograd` the lab's with Winograd wherever a tile fits, whatever its cost model says;
/// `lab` or unset, the lab's.
pub const KERNELS_ENV: &str = "ALEXNET_LAB_KERNELS";

static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// Which implementation runs a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The lab's ops (CPU only); stride-1 convolutions with Winograd's transforms where its
    /// cost model says they pay (`kernels::winograd`).
    Lab,
    /// The lab's ops with every convolution direct (im2col + GEMM): the reference Winograd is
    /// checked against, in tests and in training runs.
    Direct,
    /// candle's own `conv2d`, `matmul`, `broadcast_add`, `relu` and tensor arithmetic.
    Candle,
    /// The lab's ops with Winograd for every stride-1 convolution that has a tile (at least 16
    /// channels in and out, a kernel of 2 to 7), whatever the cost model says: how the tests
    /// reach Winograd's path at any size, and the other side of the model's A/B.
    Winograd,
}

crate::named_enum!(Kernels "kernel implementation" { Lab = "lab", Direct = "direct", Candle = "candle", Winograd = "winograd" });

/// Chooses the implementation for the CPU from now on (the lab's by default).
pub fn set_kernels(k: Kernels) {
    CHOSEN.store(k as u8, Ordering::Relaxed);
}

impl Kernels {
    /// The implementation chosen with [`set_kernels`].
    pub fn chosen() -> Self {
        match CHOSEN.load(Ordering::Relaxed) {
            1 => Self::Direct,
            2 => Self::Candle,
            3 => Self::Winograd,
            _ => Self::Lab,
        }
    }

    /// The implementation for `x`'s device: candle's own off the CPU, else the chosen one.
    pub fn for_tensor(x: &Tensor) -> Self {
        if !x.device().is_cpu() {
            return Self::Candle;
        }
        Self::chosen()
    }
}
