//! The lab's models by name ([`ModelKind`]), as the CLI, checkpoints and notebooks choose them.

use candle_core::Device;
use candle_nn::VarMap;

use super::{AlexNetConfig, LayerSpec, LeNetConfig, ModelConfig, Net, Vgg28Config};
use crate::Result;

/// The lab's named presets, as the CLI (`--model`), checkpoints and notebooks choose them;
/// [`ModelKind::config`] is the one place that maps a name to its [`ModelConfig`].
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
    /// The preset's config: the one match a new preset adds an arm to.
    pub fn config(&self) -> ModelConfig {
        match self {
            Self::AlexNet => AlexNetConfig::d2l().into(),
            Self::AlexNetOriginal => AlexNetConfig::original().into(),
            Self::LeNet => LeNetConfig::d2l().into(),
            Self::AlexNetSmall => AlexNetConfig::small().into(),
            Self::AlexNetNoDropout => AlexNetConfig::no_dropout().into(),
            Self::LeNetRelu => LeNetConfig::relu_dropout().into(),
            Self::Vgg28 => Vgg28Config::fashion_mnist().into(),
        }
    }

    /// The preset for a `(c, h, w)` input (square images only) and `classes` outputs (`None`:
    /// its own), with clear errors.
    pub fn config_for(&self, input: [usize; 3], classes: Option<usize>) -> Result<ModelConfig> {
        self.config().with_io(input, classes)
    }

    /// The default `(c, h, w)` input of the model.
    pub fn default_input(&self) -> [usize; 3] {
        self.config().input_dims()
    }

    /// The class name the model prints as (`AlexNet`, `LeNet`).
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
    pub fn default_classes(&self) -> usize {
        self.config().num_classes()
    }

    /// The layer list for a `(c, h, w)` input and the model's own number of classes.
    pub fn specs(&self, input: [usize; 3]) -> Result<Vec<LayerSpec>> {
        self.config_for(input, None)?.layer_specs()
    }

    /// The preset built for a `(c, h, w)` input (`None`: its default), freshly initialised
    /// (d2l's Xavier init, seeded), with the `VarMap` of its parameters: [`Net::init`] of
    /// [`ModelKind::config_for`].
    pub fn init(&self, input: Option<[usize; 3]>, seed: u64, device: &Device) -> Result<(Net, VarMap)> {
        let own = self.default_input();
        Net::init_sized(self.config_for(input.unwrap_or(own), None)?, own[1], seed, device)
    }

    /// [`ModelKind::init`] with `classes` outputs (the classes of the data a run trains on).
    pub(crate) fn init_for(&self, input: [usize; 3], classes: Option<usize>, seed: u64, device: &Device) -> Result<(Net, VarMap)> {
        Net::init_sized(self.config_for(input, classes)?, self.default_input()[1], seed, device)
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
