//! [`Net`]: a model's config and its [`Sequential`] together (what `AlexNet` and `LeNet` are),
//! in candle-transformers' style: a config struct, a model built from a `VarBuilder`, a
//! `Module` impl.

use std::ops::Deref;

use candle_core::{Device, ModuleT, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{init_sequential, LayerSpec, Sequential};
use crate::Result;

/// What a model's config provides: its name, its input, its layers (checked).
pub trait NetConfig: Clone {
    /// The class name the model prints as (`"AlexNet"`).
    const NAME: &'static str;
    /// `(channels, height, width)` of one input example.
    fn input_dims(&self) -> [usize; 3];
    /// The layers, checked against the input (indices = PyTorch's `nn.Sequential`).
    fn layer_specs(&self) -> Result<Vec<LayerSpec>>;
}

/// A network of config `C`; derefs to its [`Sequential`].
pub struct Net<C: NetConfig> {
    config: C,
    net: Sequential,
}

impl<C: NetConfig> Net<C> {
    /// Builds the net from weights in `vb` (`0.weight`, `0.bias`, ...), e.g. a safetensors file
    /// saved from the lecture's PyTorch model.
    pub fn new(config: &C, vb: VarBuilder) -> Result<Self> {
        let net = Sequential::new(C::NAME, config.input_dims(), &config.layer_specs()?, vb)?;
        Ok(Self { config: config.clone(), net })
    }

    /// A freshly initialised net (d2l's Xavier-uniform init, seeded) and the `VarMap` of its
    /// parameters (for an optimiser or for saving).
    pub fn init(config: &C, seed: u64, device: &Device) -> Result<(Self, VarMap)> {
        let (net, varmap) = init_sequential(C::NAME, config.input_dims(), &config.layer_specs()?, seed, device)?;
        Ok((Self { config: config.clone(), net }, varmap))
    }

    pub fn config(&self) -> &C {
        &self.config
    }

    pub fn into_sequential(self) -> Sequential {
        self.net
    }
}

impl<C: NetConfig> Deref for Net<C> {
    type Target = Sequential;
    fn deref(&self) -> &Sequential {
        &self.net
    }
}

impl<C: NetConfig> ModuleT for Net<C> {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.net.forward_t(xs, train)
    }
}
