//! The networks: layer descriptions and layers, d2l's initialisation, the sequential model,
//! d2l's AlexNet (and the 2012 original), d2l's LeNet.
//!
//! Each model is a [`Sequential`] of [`Layer`]s whose parameter names are the `state_dict`
//! keys of the lecture's PyTorch `nn.Sequential` (`0.weight`, `0.bias`, `3.weight`, ...), so
//! weights move between PyTorch and the lab unchanged through safetensors. The layers run on
//! [`crate::kernels`].

mod alexnet;
pub mod init;
mod kind;
mod layer;
mod lenet;
mod net;
mod sequential;

pub use alexnet::{AlexNet, AlexNetConfig};
pub use kind::{ModelKind, MAX_CHANNELS, MAX_SIDE};
pub use layer::{dropout, Layer, LayerSpec};
pub use lenet::{LeNet, LeNetConfig};
pub use net::{Model, Net, NetConfig};
pub use sequential::{check_fits, infer_shapes, Sequential};

pub(crate) use sequential::init_sequential;
