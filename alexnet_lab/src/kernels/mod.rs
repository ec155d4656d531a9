//! The lab's CPU kernels: candle custom ops with their backward passes, for the layers a
//! training step spends its time in. They know tensors and shapes, nothing of the lecture;
//! each computes what a candle op (or PyTorch's) computes, and is tested against it
//! (`tests/conv.rs`, `tests/linear.rs`, `tests/pool.rs`).
//!
//! - [`conv`]: 2-D convolution (im2col + GEMM forward, two GEMMs + col2im backward), bias and
//!   an optional ReLU inside the op; stride-1 layers with enough channels (AlexNet's conv2-5)
//!   through Winograd's minimal filtering instead, where it saves multiplications ([`winograd`]);
//! - [`linear`]: `x · wᵀ + b` (+ ReLU) with GEMMs on strided views, no transposed copies;
//! - [`pool`]: max-pooling with overlapping windows and its backward (candle's stock op has
//!   none for kernel ≠ stride, so AlexNet's 3/2 pools could not train at all);
//! - [`sgd`]: SGD's update and momentum buffer in place;
//! - [`sink`]: the ops' parameter gradients handed straight to the optimizer's store, without
//!   candle's zero-fill-and-add.
//!
//! - [`philox`]: dropout masks from a counter-based generator (the GPU's; any thread count draws
//!   the same mask);
//! - `cuda` (feature `cuda`): the same ops on a GPU, through cuDNN and the lab's CUDA kernels.
//!
//! One switch chooses between these and candle's stock ops: [`Kernels`].

mod cpu;
pub mod check;
pub mod choice;
pub mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod linear;
pub mod philox;
pub mod pool;
pub mod sgd;
pub mod sink;
pub mod winograd;

pub use choice::{Kernels, KERNELS_ENV};
pub use conv::{conv2d, conv2d_relu};
pub use linear::linear;
pub use pool::{max_pool2d, max_pool2d_generic};
pub(crate) use pool::max_pool2d_t;
pub use sink::GradSink;
