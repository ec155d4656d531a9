//! The one model description ([`ModelConfig`]: which family, with its config) and the one model
//! type ([`Net`]: a config and its [`Sequential`] together), in candle-transformers' style: a
//! config, a model built from a `VarBuilder`, a `Module` impl.

use std::ops::Deref;

use candle_core::{Device, ModuleT, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{init_sequential, AlexNetConfig, LayerSpec, LeNetConfig, Sequential, Vgg28Config};
use crate::{Error, Result};

/// The largest image side the lab's models accept (AlexNet's is 224; this only keeps a typo or a
/// corrupt checkpoint from asking for terabytes).
pub(crate) const MAX_SIDE: usize = 4096;
/// The most input channels the lab's models accept.
pub(crate) const MAX_CHANNELS: usize = 64;

/// A model: its family and that family's config (channels, input, classes, variant). Every
/// way to build a network goes through it: [`Net::new`] / [`Net::init`] take one, the named
/// presets ([`ModelKind::config`](super::ModelKind::config)) give one. A new family is one
/// config struct and one variant here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum ModelConfig {
    AlexNet(AlexNetConfig),
    LeNet(LeNetConfig),
    Vgg28(Vgg28Config),
}

impl ModelConfig {
    /// The class name the model prints as (`AlexNet`, `LeNet`, `Vgg28`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::AlexNet(_) => AlexNetConfig::NAME,
            Self::LeNet(_) => LeNetConfig::NAME,
            Self::Vgg28(_) => Vgg28Config::NAME,
        }
    }

    /// `(channels, height, width)` of one input example.
    pub fn input_dims(&self) -> [usize; 3] {
        match self {
            Self::AlexNet(c) => c.input_dims(),
            Self::LeNet(c) => c.input_dims(),
            Self::Vgg28(c) => c.input_dims(),
        }
    }

    /// Outputs of the last layer.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::AlexNet(c) => c.num_classes,
            Self::LeNet(c) => c.num_classes,
            Self::Vgg28(c) => c.num_classes,
        }
    }

    /// The layers, checked against the input (indices = PyTorch's `nn.Sequential`).
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        match self {
            Self::AlexNet(c) => c.layer_specs(),
            Self::LeNet(c) => c.layer_specs(),
            Self::Vgg28(c) => c.layer_specs(),
        }
    }

    /// The same model for a `(c, h, w)` input (square, within [`MAX_CHANNELS`] and
    /// [`MAX_SIDE`]) and `classes` outputs (`None`: its own), with clear errors.
    pub fn with_io(&self, input: [usize; 3], classes: Option<usize>) -> Result<Self> {
        let [c, h, w] = input;
        if c > MAX_CHANNELS || h > MAX_SIDE || w > MAX_SIDE {
            return Err(Error::config(format!(
                "input {c}x{h}x{w} is outside what the lab's models take (1 to {MAX_CHANNELS} channels, at most \
                 {MAX_SIDE}x{MAX_SIDE} pixels)"
            )));
        }
        if h != w {
            return Err(Error::invalid("input", format!("the lab's models take square images; got {h}x{w} (e.g. {c}x{h}x{h})")));
        }
        let n = classes.unwrap_or_else(|| self.num_classes());
        Ok(match self {
            Self::AlexNet(x) => Self::AlexNet(AlexNetConfig { in_channels: c, image_size: h, num_classes: n, ..x.clone() }),
            Self::LeNet(x) => Self::LeNet(LeNetConfig { in_channels: c, image_size: h, num_classes: n, ..x.clone() }),
            Self::Vgg28(x) => Self::Vgg28(Vgg28Config { in_channels: c, image_size: h, num_classes: n, ..x.clone() }),
        })
    }
}

impl From<AlexNetConfig> for ModelConfig {
    fn from(c: AlexNetConfig) -> Self {
        Self::AlexNet(c)
    }
}

impl From<LeNetConfig> for ModelConfig {
    fn from(c: LeNetConfig) -> Self {
        Self::LeNet(c)
    }
}

impl From<Vgg28Config> for ModelConfig {
    fn from(c: Vgg28Config) -> Self {
        Self::Vgg28(c)
    }
}

impl<C: Clone + Into<ModelConfig>> From<&C> for ModelConfig {
    fn from(c: &C) -> Self {
        c.clone().into()
    }
}

/// A network: its [`ModelConfig`] and the [`Sequential`] of its layers (it derefs to it).
/// `AlexNet`, `LeNet` and `Vgg28` are its names in the lecture's code.
pub struct Net {
    config: ModelConfig,
    net: Sequential,
}

impl Net {
    /// Builds the net from weights in `vb` (`0.weight`, `0.bias`, ...), e.g. a safetensors file
    /// saved from the lecture's PyTorch model.
    pub fn new(config: impl Into<ModelConfig>, vb: VarBuilder) -> Result<Self> {
        let config = config.into();
        let net = Sequential::new(config.name(), config.input_dims(), &config.layer_specs()?, vb)?;
        Ok(Self { config, net })
    }

    /// A freshly initialised net (d2l's Xavier-uniform init, seeded) and the `VarMap` of its
    /// parameters (for an optimiser or for saving).
    pub fn init(config: impl Into<ModelConfig>, seed: u64, device: &Device) -> Result<(Self, VarMap)> {
        let config = config.into();
        let own_side = config.input_dims()[1];
        Self::init_sized(config, own_side, seed, device)
    }

    /// [`Net::init`] where the model is made for `own_side` pixels (what an input too large for
    /// memory is told to use instead).
    pub(crate) fn init_sized(config: ModelConfig, own_side: usize, seed: u64, device: &Device) -> Result<(Self, VarMap)> {
        let (net, varmap) = init_sequential(config.name(), config.input_dims(), own_side, &config.layer_specs()?, seed, device)?;
        Ok((Self { config, net }, varmap))
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The same net running its layers with `kernels` ([`Sequential::with_kernels`]).
    pub fn with_kernels(self, kernels: crate::kernels::Kernels) -> Self {
        Self { net: self.net.with_kernels(kernels), ..self }
    }
}

impl Deref for Net {
    type Target = Sequential;
    fn deref(&self) -> &Sequential {
        &self.net
    }
}

impl ModuleT for Net {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.net.forward_t(xs, train)
    }
}

/// AlexNet: a [`Net`] built from an [`AlexNetConfig`] (the lecture's name for it).
pub type AlexNet = Net;

/// LeNet: a [`Net`] built from a [`LeNetConfig`] (the lecture's name for it).
pub type LeNet = Net;

/// The 28x28 network: a [`Net`] built from a [`Vgg28Config`] (the lecture's name for it).
pub type Vgg28 = Net;
