//! LeNet as d2l defines it (sigmoid activations, average pooling).

use super::{infer_shapes, LayerSpec};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeNetConfig {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Height = width of the input images (28 for Fashion-MNIST).
    pub image_size: usize,
    /// ReLU instead of d2l's sigmoid after every hidden layer.
    #[serde(default)]
    pub relu: bool,
    /// Max-pooling instead of d2l's average pooling.
    #[serde(default)]
    pub max_pool: bool,
    /// Dropout after the two hidden dense layers (0: none, and no Dropout layers, as in d2l).
    #[serde(default)]
    pub dropout: f64,
}

impl LeNetConfig {
    /// The class name the model prints as.
    pub const NAME: &'static str = "LeNet";

    /// d2l's LeNet: 1x28x28, 10 classes.
    pub fn d2l() -> Self {
        Self { in_channels: 1, num_classes: 10, image_size: 28, relu: false, max_pool: false, dropout: 0.0 }
    }

    /// d2l exercise 7.1.5: LeNet with AlexNet's changes, ReLU, max-pooling and dropout 0.5 after
    /// the two hidden dense layers (17 layers; the same 61,706 parameters).
    pub fn relu_dropout() -> Self {
        Self { relu: true, max_pool: true, dropout: 0.5, ..Self::d2l() }
    }

    pub fn input_dims(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    fn features(&self) -> Vec<LayerSpec> {
        use LayerSpec::*;
        let (act, pool) = (self.activation(), self.pool());
        vec![
            Conv2d { in_channels: self.in_channels, out_channels: 6, kernel: 5, stride: 1, padding: 2 },
            act,
            pool,
            Conv2d { in_channels: 6, out_channels: 16, kernel: 5, stride: 1, padding: 0 },
            act,
            pool,
            Flatten,
        ]
    }

    /// The 12 layers of d2l's `nn.Sequential` (flatten size derived: 400 at 28x28).
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        if self.in_channels == 0 || self.num_classes == 0 {
            return Err(Error::config("LeNet needs in_channels >= 1 and num_classes >= 1"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!("dropout must be in [0, 1), got {}", self.dropout)));
        }
        let features = self.features();
        let shapes = infer_shapes(&features, &self.input_dims())
            .map_err(|e| Error::config(format!("image size {} is too small for LeNet ({e})", self.image_size)))?;
        let flat = shapes.last().and_then(|s| s.first()).copied().ok_or_else(|| Error::config("the feature layers are empty"))?;
        use LayerSpec::*;
        let mut specs = features;
        for (i, o) in [(flat, 120), (120, 84)] {
            specs.extend([Linear { in_features: i, out_features: o }, self.activation()]);
            if self.dropout > 0.0 {
                specs.push(Dropout { p: self.dropout });
            }
        }
        specs.push(Linear { in_features: 84, out_features: self.num_classes });
        Ok(specs)
    }

    fn activation(&self) -> LayerSpec {
        if self.relu { LayerSpec::ReLU } else { LayerSpec::Sigmoid }
    }

    fn pool(&self) -> LayerSpec {
        if self.max_pool { LayerSpec::MaxPool2d { kernel: 2, stride: 2 } } else { LayerSpec::AvgPool2d { kernel: 2, stride: 2 } }
    }
}

impl Default for LeNetConfig {
    fn default() -> Self {
        Self::d2l()
    }
}
