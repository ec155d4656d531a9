//! # alexnet_lab
//!
//! A Rust lab for the lecture "deep convolutional networks: AlexNet" (d2l chapter 7.1), on
//! [candle](https://github.com/huggingface/candle). The modules are the system's layers; each
//! uses only ones listed before it, and neither of `kernels`/`report` nor of `nn`/`data` uses
//! the other:
//!
//! | layer | holds |
//! |---|---|
//! | [`sys`] | device choice, allocator tuning, `/proc` readings, crash-safe files, seeds |
//! | [`kernels`] | CPU ops with backward passes: convolution, linear, max-pool, SGD update; one switch to candle's stock ops |
//! | [`report`] | plots (SVG/PNG), text tables and CSV, notebook display |
//! | [`nn`] | layer specs and layers, Xavier init, `Sequential`, AlexNet (d2l's, 2012's), LeNet |
//! | [`data`] | the `Dataset` trait; Fashion-MNIST from the hub or IDX files; image folders; photo decoding, transforms, batches |
//! | [`train`] | recipe and profiles, `train_ch6`, evaluation, SGD, checkpoints, runs, predict, benchmark |
//! | [`lecture`] | shape walk, complexity and the slide's table, activations, the Q&A experiments |
//!
//! [`error`] is under all of them; [`prelude`] is for notebooks. The `alexnet-lab` command line
//! is a separate binary target (`src/bin/alexnet-lab`, feature `cli`) on top of this API.
//! `tests/layout.rs` checks that no module reaches up the table.
//!
//! No panics in the library: no `unwrap`/`expect`/`panic!`, and no indexing that can go out of
//! bounds (`clippy::indexing_slicing`; the few kernels that index hot loops say why the
//! indices are in bounds): user input reaches errors, not panics (a panic in a notebook
//! kernel loses every variable). Enforced by the lints below under `cargo clippy` and by
//! `tests/no_panics.rs` under `cargo test`.
//!
//! The crate re-exports candle, candle-nn, polars and plotters so a notebook needs a single
//! `:dep alexnet_lab = { path = "../alexnet_lab", default-features = false }`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing
)]

/// Implements the names of a plain enum, for the CLI, the environment and error messages:
/// `NAMES`, `as_str()`, `Display`, and `FromStr` (case-insensitive; an unknown name is an
/// error listing the known ones).
macro_rules! named_enum {
    ($t:ident $what:literal { $($v:ident = $n:literal),+ $(,)? }) => {
        impl $t {
            /// Every value's name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($n),+];
            /// Every value, in declaration order (the order of [`Self::NAMES`]).
            pub const ALL: [Self; [$($n),+].len()] = [$(Self::$v),+];

            /// The name [`std::str::FromStr`] reads back.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$v => $n),+
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = crate::Error;
            fn from_str(s: &str) -> crate::Result<Self> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($n => Ok(Self::$v),)+
                    other => Err(crate::Error::config(format!(
                        "unknown {} '{other}': use one of {}",
                        $what,
                        Self::NAMES.join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use named_enum;

pub mod error;
pub mod sys;
pub mod kernels;
pub mod report;
pub mod nn;
pub mod data;
pub mod train;
pub mod lecture;
pub mod prelude;

pub use error::{Error, Result};
pub use nn::{AlexNet, AlexNetConfig, LeNet, LeNetConfig, ModelKind, Sequential};

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
    match dims.as_slice() {
        &[c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(bad()),
    }
}
