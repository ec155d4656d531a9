//! The networks: layer descriptions and layers, d2l's initialisation, the sequential model,
//! d2l's AlexNet (and the 2012 original), d2l's LeNet, and a small net for 28x28 images.
//!
//! Each model is a [`Sequential`] of [`Layer`]s whose parameter names are the `state_dict`
//! keys of the lecture's PyTorch `nn.Sequential` (`0.weight`, `0.bias`, `3.weight`, ...), so
//! weights move between PyTorch and the lab unchanged through safetensors. The layers run on
//! [`crate::kernels`].
//!
//! One way to do each thing:
//! - **describe** a model with one [`ModelConfig`] (its family's config: [`AlexNetConfig`],
//!   [`LeNetConfig`], [`Vgg28Config`]); the named presets of the CLI's `--model` and of
//!   checkpoints are [`ModelKind`]s, whose [`ModelKind::config`] is that description. The config
//!   is the single source of the layers ([`ModelConfig::layer_specs`]); a new family is one
//!   config and one variant of [`ModelConfig`], a new preset one name in [`ModelKind`].
//! - **build** a [`Net`] from it, candle's way: [`Net::new`]`(config, vb)` takes weights from a
//!   `VarBuilder` (a safetensors file), [`Net::init`]`(config, seed, device)` the same over fresh
//!   Xavier-initialised weights ([`ModelKind::init`] is that for a preset at an input size);
//!   `AlexNet`, `LeNet` and `Vgg28` are the lecture's names for a `Net`.
//! - **run**: [`Sequential::forward`]`(xs, train)`, `train = true` for training (dropout on),
//!   `false` for evaluation; [`candle_core::ModuleT::forward_t`] is the same call for code written
//!   against candle. [`Sequential::forward_layers`] keeps every layer's output (the shape walk).

mod alexnet;
pub mod init;
mod kind;
mod layer;
mod lenet;
mod net;
mod sequential;
mod vgg28;

pub use alexnet::AlexNetConfig;
pub use kind::ModelKind;
pub use layer::{dropout, Layer, LayerSpec};
pub use lenet::LeNetConfig;
pub use net::{AlexNet, LeNet, ModelConfig, Net, Vgg28};
pub use sequential::Sequential;
pub(crate) use sequential::{check_fits, infer_shapes};
pub use vgg28::Vgg28Config;

pub(crate) use sequential::init_sequential;
