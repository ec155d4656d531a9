//! The lab's models by name ([`ModelKind`]), as the CLI, checkpoints and notebooks choose them.

use candle_core::Device;
use candle_nn::VarMap;

use super::{init_sequential, AlexNetConfig, LayerSpec, LeNetConfig, Model, NetConfig, Sequential, Vgg28Config};
use crate::{Error, Result};

/// The largest image side the lab's models accept (AlexNet's is 224; this only keeps a typo or a
/// corrupt checkpoint from asking for terabytes).
pub(crate) const MAX_SIDE: usize = 4096;
/// The most input channels the lab's models accept.
pub(crate) const MAX_CHANNELS: usize = 64;

/// The lab's models by name, as the CLI and the notebooks choose them; [`ModelKind::model`]
/// is the one place that maps a name to its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ModelKind {
    /// d2l's AlexNet: 1x224x224, 10 classes.
    #[serde(rename = "alexnet")]
    AlexNet,
    /// The 2012 paper's AlexNet as one tower: 3x227x227, 1000 classes.
    #[serde(rename = "alexnet-original")]
    AlexNetOriginal,
    /// d2l's LeNet: 1x28x28, 10 classes.
    #[serde(rename = "lenet")]
    LeNet,
    /// A simpler AlexNet (d2l exercise 7.1.2a): half the channels, dense layers of 1024.
    #[serde(rename = "alexnet-small")]
    AlexNetSmall,
    /// d2l's AlexNet without dropout (exercise 7.1.6).
    #[serde(rename = "alexnet-no-dropout")]
    AlexNetNoDropout,
    /// LeNet with ReLU, max-pooling and dropout (exercise 7.1.5).
    #[serde(rename = "lenet-relu")]
    LeNetRelu,
    /// A small net for 28x28 images: two blocks of 3x3 convolutions, a dense layer (exercise 7.1.2b).
    #[serde(rename = "vgg-28")]
    Vgg28,
}

impl ModelKind {
    /// The model's config, behind `dyn`: the one match a new model adds an arm to.
    pub fn model(&self) -> Box<dyn Model> {
        match self {
            Self::AlexNet => Box::new(AlexNetConfig::d2l()),
            Self::AlexNetOriginal => Box::new(AlexNetConfig::original()),
            Self::LeNet => Box::new(LeNetConfig::d2l()),
            Self::AlexNetSmall => Box::new(AlexNetConfig::small()),
            Self::AlexNetNoDropout => Box::new(AlexNetConfig::no_dropout()),
            Self::LeNetRelu => Box::new(LeNetConfig::relu_dropout()),
            Self::Vgg28 => Box::new(Vgg28Config::fashion_mnist()),
        }
    }

    /// The default `(c, h, w)` input of the model.
    pub fn default_input(&self) -> [usize; 3] {
        self.model().default_input()
    }

    /// The class name the model prints as (`AlexNet`, `LeNet`): its config's `NAME`, without
    /// building the config.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AlexNet | Self::AlexNetOriginal | Self::AlexNetSmall | Self::AlexNetNoDropout => AlexNetConfig::NAME,
            Self::LeNet | Self::LeNetRelu => LeNetConfig::NAME,
            Self::Vgg28 => Vgg28Config::NAME,
        }
    }

    /// How outputs name the model: its class name, and for a variant also its name in the CLI
    /// (`AlexNet`, `AlexNet (alexnet-small)`).
    pub fn label(&self) -> String {
        match self {
            Self::AlexNet | Self::LeNet | Self::Vgg28 => self.name().into(),
            other => format!("{} ({other})", other.name()),
        }
    }

    /// The number of classes the model has unless told otherwise (10 for d2l's nets, 1000 for
    /// the paper's).
    pub(crate) fn default_classes(&self) -> usize {
        self.model().default_classes()
    }

    /// The layer list for a `(c, h, w)` input (square images only) and the model's own number
    /// of classes, with clear errors.
    pub fn specs(&self, input: [usize; 3]) -> Result<Vec<LayerSpec>> {
        self.specs_for(input, None)
    }

    /// [`ModelKind::specs`] with `classes` outputs (`None`: the model's own).
    pub(crate) fn specs_for(&self, input: [usize; 3], classes: Option<usize>) -> Result<Vec<LayerSpec>> {
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
        let model = self.model();
        model.layer_specs_for(c, h, classes.unwrap_or_else(|| model.default_classes()))
    }

    /// Builds the model for a `(c, h, w)` input (`None`: its default), freshly initialised
    /// (d2l's Xavier init, seeded), with the `VarMap` of its parameters.
    pub fn init(&self, input: Option<[usize; 3]>, seed: u64, device: &Device) -> Result<(Sequential, VarMap)> {
        self.init_for(input, None, seed, device)
    }

    /// [`ModelKind::init`] with `classes` outputs (`None`: the model's own).
    pub(crate) fn init_for(&self, input: Option<[usize; 3]>, classes: Option<usize>, seed: u64, device: &Device) -> Result<(Sequential, VarMap)> {
        let input = input.unwrap_or_else(|| self.default_input());
        init_sequential(self.name(), input, self.default_input()[1], &self.specs_for(input, classes)?, seed, device)
    }
}

crate::named_enum!(ModelKind "model" {
    AlexNet = "alexnet",
    AlexNetOriginal = "alexnet-original",
    LeNet = "lenet",
    AlexNetSmall = "alexnet-small",
    AlexNetNoDropout = "alexnet-no-dropout",
    LeNetRelu = "lenet-relu",
    Vgg28 = "vgg-28",
});
