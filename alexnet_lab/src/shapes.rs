//! The lecture's shape walk: push a tensor through the layers one by one and print each
//! layer's output shape (`for layer in net: X = layer(X); print(...)`).

use candle_core::Tensor;

use crate::models::Sequential;
use crate::Result;

/// One line of the walk: the layer's index, class name and the shape it produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShapeStep {
    pub index: usize,
    pub layer: String,
    pub output_shape: Vec<usize>,
}

impl std::fmt::Display for ShapeStep {
    /// `Conv2d output shape: [1, 96, 54, 54]`, as the lecture prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} output shape: {:?}", self.layer, self.output_shape)
    }
}

/// Runs `xs` (a real batch) through every layer in eval mode and records the output shapes.
pub fn walk(net: &Sequential, xs: &Tensor) -> Result<Vec<ShapeStep>> {
    let outs = net.forward_layers(xs, false)?;
    Ok(net
        .layers()
        .iter()
        .zip(outs)
        .map(|(l, t)| ShapeStep { index: l.index(), layer: l.name().to_string(), output_shape: t.dims().to_vec() })
        .collect())
}

/// The lecture's walk with `X = torch.randn(1, c, h, w)`: a standard-normal batch of one.
pub fn walk_random(net: &Sequential, seed: u64) -> Result<Vec<ShapeStep>> {
    let [c, h, w] = net.input_dims();
    use rand::{rngs::StdRng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = StdRng::seed_from_u64(seed);
    let data: Vec<f32> = (0..c * h * w).map(|_| StandardNormal.sample(&mut rng)).collect();
    let xs = Tensor::from_vec(data, (1, c, h, w), &net.device())?;
    walk(net, &xs)
}

/// The walk as the lecture prints it, one line per layer.
pub fn render(steps: &[ShapeStep]) -> String {
    steps.iter().map(|s| format!("{s}\n")).collect()
}
