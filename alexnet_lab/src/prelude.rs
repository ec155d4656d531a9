//! The names the lab's notebooks use, in one line: `use alexnet_lab::prelude::*;`.
//!
//! The models and their configs, the data and its pipeline, the lecture's helpers (shape walk,
//! complexity, the Q&A experiments), the trainer and its recipe, plots and tables, the notebook
//! helpers (`knob`, `fail_fast_on_panic`), candle's `Device`/`Tensor` and `ModuleT` (for a
//! layer's `forward_t`). Nothing else: no `Result` alias shadowing std's, no foreign crate's
//! contents (candle, polars, plotters and rand are at the crate's root: `alexnet_lab::polars`).

pub use crate::data::{self, Augment, Dataset, FashionMnist, ImageFolder, Pipeline, ResizeMode, Source};
pub use crate::lecture::{activations, architecture, aspect, batch_size, complexity::slides, exercises, shapes, Complexity};
pub use crate::nn::{AlexNet, AlexNetConfig, LeNet, LeNetConfig, ModelKind};
pub use crate::report::display::{fail_fast_on_panic, knob};
pub use crate::report::{plot, table};
pub use crate::sys::{self, device_name, parse_device};
pub use crate::train::{self, train_ch6, Profile, TrainConfig, Trainer};
pub use crate::{candle, kernels, Error};
pub use candle_core::{Device, ModuleT, Tensor};
