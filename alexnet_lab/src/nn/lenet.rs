//! LeNet as d2l defines it (sigmoid activations, average pooling).

use super::{infer_shapes, LayerSpec, Net, NetConfig};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeNetConfig {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Height = width of the input images (28 for Fashion-MNIST).
    pub image_size: usize,
}

impl LeNetConfig {
    /// d2l's LeNet: 1x28x28, 10 classes.
    pub fn d2l() -> Self {
        Self { in_channels: 1, num_classes: 10, image_size: 28 }
    }

    pub fn input_dims(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    fn features(&self) -> Vec<LayerSpec> {
        use LayerSpec::*;
        vec![
            Conv2d { in_channels: self.in_channels, out_channels: 6, kernel: 5, stride: 1, padding: 2 },
            Sigmoid,
            AvgPool2d { kernel: 2, stride: 2 },
            Conv2d { in_channels: 6, out_channels: 16, kernel: 5, stride: 1, padding: 0 },
            Sigmoid,
            AvgPool2d { kernel: 2, stride: 2 },
            Flatten,
        ]
    }

    /// The 12 layers of d2l's `nn.Sequential` (flatten size derived: 400 at 28x28).
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        if self.in_channels == 0 || self.num_classes == 0 {
            return Err(Error::config("LeNet needs in_channels >= 1 and num_classes >= 1"));
        }
        let features = self.features();
        let shapes = infer_shapes(&features, &self.input_dims())
            .map_err(|e| Error::config(format!("image size {} is too small for LeNet ({e})", self.image_size)))?;
        let flat = shapes.last().and_then(|s| s.first()).copied().ok_or_else(|| Error::config("the feature layers are empty"))?;
        use LayerSpec::*;
        let mut specs = features;
        specs.extend([
            Linear { in_features: flat, out_features: 120 }, Sigmoid,
            Linear { in_features: 120, out_features: 84 }, Sigmoid,
            Linear { in_features: 84, out_features: self.num_classes },
        ]);
        Ok(specs)
    }
}

impl Default for LeNetConfig {
    fn default() -> Self {
        Self::d2l()
    }
}

impl NetConfig for LeNetConfig {
    const NAME: &'static str = "LeNet";

    fn input_dims(&self) -> [usize; 3] {
        LeNetConfig::input_dims(self)
    }

    fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        LeNetConfig::layer_specs(self)
    }
}

/// LeNet as a [`Sequential`](super::Sequential) of layers with PyTorch's parameter names, and its config.
pub type LeNet = Net<LeNetConfig>;
