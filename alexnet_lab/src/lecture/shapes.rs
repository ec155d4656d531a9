//! The lecture's shape walk: push a tensor through the layers one by one and print each
//! layer's output shape (`for layer in net: X = layer(X); print(...)`).

use candle_core::Tensor;

use crate::nn::{infer_shapes, LayerSpec, Sequential};
use crate::report::display::text;
use crate::report::table::csv_string;
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

/// The whole walk; prints (and shows in a notebook) as the lecture's lines, and derefs to its
/// steps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ShapeWalk(pub Vec<ShapeStep>);

impl std::ops::Deref for ShapeWalk {
    type Target = [ShapeStep];
    fn deref(&self) -> &[ShapeStep] {
        &self.0
    }
}

impl std::fmt::Display for ShapeWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|s| writeln!(f, "{s}"))
    }
}

impl ShapeWalk {
    /// `index,layer,output_shape` (shape as `1x96x54x54`), through polars' CSV writer.
    pub fn to_csv(&self) -> Result<String> {
        let shape = |s: &ShapeStep| s.output_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
        let mut df = polars::df!(
            "index" => self.0.iter().map(|s| s.index as u32).collect::<Vec<_>>(),
            "layer" => self.0.iter().map(|s| s.layer.clone()).collect::<Vec<_>>(),
            "output_shape" => self.0.iter().map(shape).collect::<Vec<_>>(),
        )?;
        csv_string(&mut df)
    }

    pub fn evcxr_display(&self) {
        text(&self.to_string());
    }
}

/// Runs `xs` (a real batch) through every layer in eval mode and records the output shapes.
pub fn walk(net: &Sequential, xs: &Tensor) -> Result<ShapeWalk> {
    let outs = net.forward_layers(xs, false)?;
    Ok(ShapeWalk(
        net.layers()
            .iter()
            .zip(outs)
            .map(|(l, t)| ShapeStep { index: l.index(), layer: l.name().to_string(), output_shape: t.dims().to_vec() })
            .collect(),
    ))
}

/// The same walk from the layer list alone, shapes inferred for a batch of one: nothing is
/// allocated, so it answers for inputs whose model would not fit in memory (the CLI's `shapes`).
pub fn walk_specs(specs: &[LayerSpec], input: &[usize]) -> Result<ShapeWalk> {
    let shapes = infer_shapes(specs, input)?;
    Ok(ShapeWalk(
        specs
            .iter()
            .zip(shapes)
            .enumerate()
            .map(|(index, (s, shape))| ShapeStep { index, layer: s.kind().to_string(), output_shape: [vec![1], shape].concat() })
            .collect(),
    ))
}

/// The lecture's walk with `X = torch.randn(1, c, h, w)`: a standard-normal batch of one.
pub fn walk_random(net: &Sequential, seed: u64) -> Result<ShapeWalk> {
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
