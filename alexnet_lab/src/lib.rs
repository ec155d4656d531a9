//! # alexnet_lab
//!
//! A Rust lab for the lecture "deep convolutional networks: AlexNet" (d2l chapter 7.1), on
//! [candle](https://github.com/huggingface/candle):
//!
//! - [`models`]: d2l's AlexNet (and the 2012 original), d2l's LeNet, with PyTorch's parameter names;
//! - [`pool`]: overlapping max-pooling with a backward pass (candle's stock op has none);
//! - [`init`]: d2l's Xavier initialisation, seedable;
//! - [`complexity`]: parameters / MACs / FLOPs per layer, computed from the models, and the
//!   lecture's table beside them;
//! - [`shapes`]: the lecture's layer-by-layer shape walk;
//! - [`data`], [`transforms`], [`loader`]: Fashion-MNIST from the hub (or IDX files), resizing,
//!   batches;
//! - [`train`], [`optim`], [`checkpoint`]: d2l's `train_ch6`, SGD, crash-safe checkpoints;
//! - [`predict`]: classify photos (PNG, JPEG, WebP, EXIF orientation) with a checkpoint;
//! - [`memory`], [`aspect`]: the lecture's Q&A experiments (batch size vs memory, resize vs crop);
//! - [`plot`], [`table`], [`notebook`]: what the notebooks show.
//!
//! No `unwrap`/`expect`/`panic!` in the library: user input reaches errors, not panics (a
//! panic in a notebook kernel loses every variable). Enforced by the lints below under
//! `cargo clippy` and by `tests/no_panics.rs` under `cargo test`.
//!
//! The crate re-exports candle, candle-nn, polars and plotters so a notebook needs a single
//! `:dep alexnet_lab = { path = "../alexnet_lab" }`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub mod activations;
pub mod aspect;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod complexity;
pub mod conv;
mod cpu_ops;
pub mod data;
pub mod device;
pub mod error;
pub mod init;
pub mod layers;
pub mod linear;
pub mod loader;
pub mod malloc;
pub mod memory;
pub mod models;
pub mod notebook;
pub mod optim;
pub mod plot;
pub mod pool;
pub mod predict;
pub mod shapes;
pub mod table;
pub mod train;
pub mod transforms;

pub use error::{Error, Result};
pub use models::{AlexNet, AlexNetConfig, LeNet, LeNetConfig, ModelKind, Sequential};

pub use candle_core as candle;
pub use candle_nn;
pub use plotters;
pub use polars;
pub use rand;

/// Parses a `CxHxW` shape such as `1x224x224` (also `1,224,224` or `[1, 224, 224]`).
pub fn parse_chw(s: &str) -> Result<[usize; 3]> {
    let bad = || {
        Error::config(format!(
            "malformed input shape '{s}': expected channels x height x width, e.g. 1x224x224"
        ))
    };
    let parts: Vec<&str> = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(['x', 'X', ',', '×'])
        .map(str::trim)
        .collect();
    let dims: Vec<usize> = parts.iter().map(|p| p.parse::<usize>().map_err(|_| bad())).collect::<Result<_>>()?;
    match dims[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(bad()),
    }
}
