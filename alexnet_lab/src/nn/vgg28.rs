//! A small network for Fashion-MNIST's own 28x28 images (d2l exercise 7.1.2b): what AlexNet
//! taught (ReLU, max-pooling, dropout before the classifier) in the later style of VGG, stacks of
//! 3x3 convolutions, with no upsampling of the images.

use super::{infer_shapes, LayerSpec};
use crate::{Error, Result};

/// Two blocks of two 3x3 convolutions (padding 1) + ReLU, each block closed by a 2x2 max-pool
/// (28 -> 14 -> 7), then one hidden dense layer with dropout. The flatten size (3136 at 28x28)
/// is derived, never typed in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Vgg28Config {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Height = width of the input images (28 for Fashion-MNIST).
    pub image_size: usize,
    /// Output channels of the two blocks (32, 64).
    pub channels: [usize; 2],
    /// Width of the hidden dense layer (256).
    pub hidden: usize,
    /// Dropout after the hidden dense layer (train mode only).
    pub dropout: f64,
}

impl Vgg28Config {
    /// The class name the model prints as.
    pub const NAME: &'static str = "Vgg28";

    /// 1x28x28, 10 classes, blocks of 32 and 64 channels, a hidden layer of 256, dropout 0.5.
    pub fn fashion_mnist() -> Self {
        Self { in_channels: 1, num_classes: 10, image_size: 28, channels: [32, 64], hidden: 256, dropout: 0.5 }
    }

    pub fn input_dims(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    fn features(&self) -> Vec<LayerSpec> {
        use LayerSpec::*;
        let conv = |i, o| Conv2d { in_channels: i, out_channels: o, kernel: 3, stride: 1, padding: 1 };
        let pool = MaxPool2d { kernel: 2, stride: 2 };
        let [a, b] = self.channels;
        vec![conv(self.in_channels, a), ReLU, conv(a, a), ReLU, pool, conv(a, b), ReLU, conv(b, b), ReLU, pool, Flatten]
    }

    /// The 15 layers, checked against the input.
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        if self.in_channels == 0 || self.num_classes == 0 || self.hidden == 0 || self.channels.contains(&0) {
            return Err(Error::config("Vgg28 needs in_channels, num_classes, channels and hidden >= 1"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!("dropout must be in [0, 1), got {}", self.dropout)));
        }
        let features = self.features();
        let shapes = infer_shapes(&features, &self.input_dims()).map_err(|e| {
            Error::config(format!("image size {} is too small for Vgg28's two 2x2 max-pools: it takes 4 or more ({e})", self.image_size))
        })?;
        let flat = shapes.last().and_then(|s| s.first()).copied().ok_or_else(|| Error::config("the feature layers are empty"))?;
        use LayerSpec::*;
        let mut specs = features;
        specs.extend([
            Linear { in_features: flat, out_features: self.hidden },
            ReLU,
            Dropout { p: self.dropout },
            Linear { in_features: self.hidden, out_features: self.num_classes },
        ]);
        Ok(specs)
    }
}

impl Default for Vgg28Config {
    fn default() -> Self {
        Self::fashion_mnist()
    }
}
