//! AlexNet: d2l's version for Fashion-MNIST and the 2012 paper's network (one tower).

use super::{infer_shapes, LayerSpec};
use crate::{Error, Result};

/// What varies between AlexNets. The flatten size (6400 for d2l, 9216 for the paper) is
/// derived from these, never typed in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlexNetConfig {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Height = width of the input images.
    pub image_size: usize,
    /// Dropout probability after the two hidden dense layers (train mode only).
    pub dropout: f64,
    /// Padding of the first convolution: 1 in d2l's code, 0 in the paper (227 -> 55).
    pub conv1_padding: usize,
    /// Output channels of the five convolutions (96, 256, 384, 384, 256 in d2l's and the
    /// paper's net; absent from older serialised configs: those).
    #[serde(default = "alexnet_channels")]
    pub channels: [usize; 5],
    /// Width of the two hidden dense layers (4096).
    #[serde(default = "alexnet_hidden")]
    pub hidden: usize,
}

fn alexnet_channels() -> [usize; 5] {
    [96, 256, 384, 384, 256]
}

fn alexnet_hidden() -> usize {
    4096
}

impl AlexNetConfig {
    /// The class name the model prints as.
    pub const NAME: &'static str = "AlexNet";

    /// The lecture's code: 1x224x224 Fashion-MNIST, 10 classes, flatten 6400.
    pub fn d2l() -> Self {
        Self {
            in_channels: 1,
            num_classes: 10,
            image_size: 224,
            dropout: 0.5,
            conv1_padding: 1,
            channels: alexnet_channels(),
            hidden: alexnet_hidden(),
        }
    }

    /// d2l exercise 7.1.2(a), a simpler AlexNet for Fashion-MNIST: the same 21 layers with half
    /// the channels (48, 128, 192, 192, 128) and dense layers of 1024: 5.3 M parameters and
    /// 0.24 G multiply-adds at 1x224x224, against d2l's 46.8 M and 0.94 G.
    pub fn small() -> Self {
        Self { channels: [48, 128, 192, 192, 128], hidden: 1024, ..Self::d2l() }
    }

    /// d2l's AlexNet without dropout (exercise 7.1.6, making AlexNet overfit): the Dropout
    /// layers stay in place with p = 0, so the layer indices are d2l's.
    pub fn no_dropout() -> Self {
        Self { dropout: 0.0, ..Self::d2l() }
    }

    /// The 2012 paper's network as one tower: 3x227x227, 1000 classes, flatten 9216.
    /// (The paper's local response normalisation has no parameters and is left out.)
    pub fn original() -> Self {
        Self { in_channels: 3, num_classes: 1000, image_size: 227, conv1_padding: 0, ..Self::d2l() }
    }

    pub fn input_dims(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    /// The convolutional part, indices 0..=13 (up to and including `Flatten`).
    fn features(&self) -> Vec<LayerSpec> {
        use LayerSpec::*;
        let conv = |i, o, k, s, p| Conv2d { in_channels: i, out_channels: o, kernel: k, stride: s, padding: p };
        let [c1, c2, c3, c4, c5] = self.channels;
        let pool = MaxPool2d { kernel: 3, stride: 2 };
        vec![
            conv(self.in_channels, c1, 11, 4, self.conv1_padding), ReLU, pool,
            conv(c1, c2, 5, 1, 2), ReLU, pool,
            conv(c2, c3, 3, 1, 1), ReLU,
            conv(c3, c4, 3, 1, 1), ReLU,
            conv(c4, c5, 3, 1, 1), ReLU, pool,
            Flatten,
        ]
    }

    /// Smallest square input that passes AlexNet's three 3/2 max-pools (65 for d2l's net).
    pub fn min_image_size(&self) -> usize {
        (1..=4096)
            .find(|&s| infer_shapes(&self.features(), &[self.in_channels, s, s]).is_ok())
            .unwrap_or(usize::MAX)
    }

    /// Checks the configuration and returns the 21 layers (indices = PyTorch's).
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        if self.in_channels == 0 || self.num_classes == 0 || self.hidden == 0 || self.channels.contains(&0) {
            return Err(Error::config(format!(
                "AlexNet needs in_channels >= 1 and num_classes >= 1, got {} and {}",
                self.in_channels, self.num_classes
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!("dropout must be in [0, 1), got {}", self.dropout)));
        }
        let features = self.features();
        let shapes = infer_shapes(&features, &self.input_dims()).map_err(|e| {
            Error::config(format!(
                "image size {s}x{s} is too small for AlexNet's three 3/2 max-pools: the smallest it \
                 takes is {min}x{min} ({e})",
                s = self.image_size,
                min = self.min_image_size()
            ))
        })?;
        let flat = shapes.last().and_then(|s| s.first()).copied().ok_or_else(|| Error::config("the feature layers are empty"))?;
        let p = self.dropout;
        use LayerSpec::*;
        let mut specs = features;
        specs.extend([
            Linear { in_features: flat, out_features: self.hidden }, ReLU, Dropout { p },
            Linear { in_features: self.hidden, out_features: self.hidden }, ReLU, Dropout { p },
            Linear { in_features: self.hidden, out_features: self.num_classes },
        ]);
        Ok(specs)
    }
}

impl Default for AlexNetConfig {
    fn default() -> Self {
        Self::d2l()
    }
}
