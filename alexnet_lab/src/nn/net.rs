//! [`Net`]: a model's config and its [`Sequential`] together (what `AlexNet` and `LeNet` are),
//! in candle-transformers' style: a config struct, a model built from a `VarBuilder`, a
//! `Module` impl.

use std::ops::Deref;

use candle_core::{Device, ModuleT, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{init_sequential, LayerSpec, Sequential};
use crate::Result;

/// What a model's config provides: its name, its input, its layers (checked), and the same
/// model for another input and number of classes. A new model is one file: its config, this
/// impl, and a name in [`ModelKind`](super::ModelKind).
pub trait NetConfig: Clone {
    /// The class name the model prints as (`"AlexNet"`).
    const NAME: &'static str;
    /// `(channels, height, width)` of one input example.
    fn input_dims(&self) -> [usize; 3];
    /// The layers, checked against the input (indices = PyTorch's `nn.Sequential`).
    fn layer_specs(&self) -> Result<Vec<LayerSpec>>;
    /// Outputs of the last layer.
    fn num_classes(&self) -> usize;
    /// The same model for `channels` x `size` x `size` inputs and `classes` outputs.
    fn with_io(&self, channels: usize, size: usize, classes: usize) -> Self;
}

/// A model as [`ModelKind`](super::ModelKind) builds it by name: any [`NetConfig`], behind `dyn`.
pub trait Model: Send + Sync {
    /// The class name it prints as.
    fn name(&self) -> &'static str;
    /// `(c, h, w)` of the input it is made for.
    fn default_input(&self) -> [usize; 3];
    /// Its outputs unless told otherwise.
    fn default_classes(&self) -> usize;
    /// Its layers for `channels` x `size` x `size` inputs and `classes` outputs, checked.
    fn layer_specs_for(&self, channels: usize, size: usize, classes: usize) -> Result<Vec<LayerSpec>>;
}

impl<C: NetConfig + Send + Sync> Model for C {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn default_input(&self) -> [usize; 3] {
        self.input_dims()
    }

    fn default_classes(&self) -> usize {
        self.num_classes()
    }

    fn layer_specs_for(&self, channels: usize, size: usize, classes: usize) -> Result<Vec<LayerSpec>> {
        self.with_io(channels, size, classes).layer_specs()
    }
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
        let (net, varmap) = init_sequential(C::NAME, config.input_dims(), config.input_dims()[1], &config.layer_specs()?, seed, device)?;
        Ok((Self { config: config.clone(), net }, varmap))
    }

    pub fn config(&self) -> &C {
        &self.config
    }

    /// The same net running its layers with `kernels` ([`Sequential::with_kernels`]).
    pub fn with_kernels(self, kernels: crate::kernels::Kernels) -> Self {
        Self { net: self.net.with_kernels(kernels), ..self }
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
