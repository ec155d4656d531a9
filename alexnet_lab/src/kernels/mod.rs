//! The lab's CPU kernels: candle custom ops with their backward passes, for the layers a
//! training step spends its time in. They know tensors and shapes, nothing of the lecture;
//! each computes what a candle op (or PyTorch's) computes, and is tested against it
//! (`tests/conv.rs`, `tests/linear.rs`, `tests/pool.rs`).
//!
//! - [`conv`]: 2-D convolution (im2col + GEMM forward, two GEMMs + col2im backward), bias and
//!   an optional ReLU inside the op;
//! - [`linear`]: `x · wᵀ + b` (+ ReLU) with GEMMs on strided views, no transposed copies;
//! - [`pool`]: max-pooling with overlapping windows and its backward (candle's stock op has
//!   none for kernel ≠ stride, so AlexNet's 3/2 pools could not train at all);
//! - [`sgd`]: SGD's update and momentum buffer in place.
//!
//! One switch chooses between these and candle's stock ops: [`Kernels`].

mod cpu;
pub mod conv;
pub mod linear;
pub mod pool;
pub mod sgd;

pub use conv::{conv2d, conv2d_relu};
pub use linear::linear;
pub use pool::{max_pool2d, max_pool2d_generic, max_pool2d_t};

use candle_core::Tensor;

/// The environment variable that switches the kernels: `ALEXNET_LAB_KERNELS=candle` runs
/// candle's stock ops (for benchmarks and comparisons; candle's convolution backward is slow
/// on the CPU, and its max-pool has no backward for AlexNet's 3/2 windows, so the pool stays
/// the lab's).
pub const KERNELS_ENV: &str = "ALEXNET_LAB_KERNELS";

/// Which implementation runs a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The lab's ops (CPU only).
    Lab,
    /// candle's own `conv2d`, `matmul`, `broadcast_add`, `relu` and tensor arithmetic.
    Candle,
}

impl Kernels {
    /// The implementation for `x`'s device: candle's own off the CPU, else the lab's unless
    /// [`KERNELS_ENV`] says `candle`.
    pub fn for_tensor(x: &Tensor) -> Self {
        if !x.device().is_cpu() {
            return Self::Candle;
        }
        match std::env::var(KERNELS_ENV).as_deref() {
            Ok("candle") => Self::Candle,
            _ => Self::Lab,
        }
    }
}
