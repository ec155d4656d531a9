//! Which implementation runs a layer: the lab's kernels or candle's stock ops. A value, not a
//! process-wide switch: a network holds its choice ([`crate::Sequential::with_kernels`]), an
//! optimiser its own ([`crate::train::Sgd::with_kernels`]), the ops take it as an argument. The
//! library reads no environment variable for it (the `alexnet-lab` binary reads
//! [`KERNELS_ENV`] and passes the value on).

/// The environment variable the `alexnet-lab` binary reads at start: `ALEXNET_LAB_KERNELS=candle`
/// runs candle's stock ops (for benchmarks and comparisons; candle's convolution backward is
/// slow on the CPU, and its max-pool has no backward for AlexNet's 3/2 windows, so the pool
/// stays the lab's); `direct` the lab's with every convolution as im2col + GEMM (no Winograd);
/// `winograd` the lab's with Winograd wherever a tile fits, whatever its cost model says;
/// `lab` or unset, the lab's.
pub const KERNELS_ENV: &str = "ALEXNET_LAB_KERNELS";

/// Which implementation runs a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// The lab's ops, the default: on the CPU its kernels, stride-1 convolutions with
    /// Winograd's transforms where its cost model says they pay (`kernels::winograd`); on a CUDA
    /// device (feature `cuda`) cuDNN's convolutions and the lab's max-pool (`kernels::cuda`),
    /// as for [`Kernels::Direct`] and [`Kernels::Winograd`] there.
    #[default]
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

impl Kernels {
    /// Whether the lab's CPU op runs on `x`: it is on the CPU and candle's ops are not chosen.
    pub(crate) fn lab_on_cpu(self, x: &candle_core::Tensor) -> bool {
        self != Self::Candle && x.device().is_cpu()
    }
}
