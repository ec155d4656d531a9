//! [`Sequential`]: an ordered list of [`Layer`]s and the input it expects, with the forward
//! pass (conv/linear + ReLU fused), the layer-by-layer pass of the shape walk, seeded dropout.

use candle_core::{DType, Device, ModuleT, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::layer::{Layer, LayerSpec};
use super::init::xavier_varmap;
use crate::kernels::Kernels;
use crate::{Error, Result};

/// Shapes of every layer's output for one `(c, h, w)` example; fails with the layer that
/// cannot take its input.
pub(crate) fn infer_shapes(specs: &[LayerSpec], input: &[usize]) -> Result<Vec<Vec<usize>>> {
    let mut shape = input.to_vec();
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        shape = spec.output_shape(i, &shape)?;
        out.push(shape.clone());
    }
    Ok(out)
}

/// A sequential network: an ordered list of layers and the input it expects.
pub struct Sequential {
    name: String,
    input: [usize; 3],
    layers: Vec<Layer>,
    /// Seed of the next train-mode forward pass's dropout masks; each such pass takes one and
    /// moves it on, and [`Sequential::set_dropout_seed`] sets it (the training loop does, per
    /// step, so a resumed run draws the same masks as an uninterrupted one).
    dropout_seed: std::sync::atomic::AtomicU64,
    /// The implementation its layers run with ([`Kernels::Lab`] unless
    /// [`Sequential::with_kernels`] says otherwise).
    kernels: Kernels,
}

impl Sequential {
    /// Builds the layers of `specs` from `vb` (names `"{index}.weight"`, `"{index}.bias"`),
    /// after checking that `input` (c, h, w) flows through all of them.
    pub(crate) fn new(name: impl Into<String>, input: [usize; 3], specs: &[LayerSpec], vb: VarBuilder) -> Result<Self> {
        infer_shapes(specs, &input)?;
        let layers = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Layer::new(i, *s, &vb))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { name: name.into(), input, layers, dropout_seed: Default::default(), kernels: Kernels::Lab })
    }

    /// The same network running its layers with `kernels` (e.g. [`Kernels::Candle`]: candle's
    /// stock ops, for comparisons; [`Kernels::Direct`]: no Winograd).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The implementation its layers run with.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Sets the seed of the next train-mode forward pass's dropout masks.
    pub fn set_dropout_seed(&self, seed: u64) {
        self.dropout_seed.store(seed, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `(channels, height, width)` of one input example.
    pub fn input_dims(&self) -> [usize; 3] {
        self.input
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn specs(&self) -> Vec<LayerSpec> {
        self.layers.iter().map(|l| *l.spec()).collect()
    }

    /// Output shapes of every layer for one example (shape inference, no computation).
    pub fn output_shapes(&self) -> Result<Vec<Vec<usize>>> {
        infer_shapes(&self.specs(), &self.input)
    }

    /// Number of classes (features of the last layer's output).
    pub fn num_classes(&self) -> usize {
        self.output_shapes().ok().and_then(|s| s.last().map(|l| l.iter().product())).unwrap_or(0)
    }

    /// The device the weights live on (CPU for a net without weights).
    pub fn device(&self) -> Device {
        self.layers.iter().flat_map(|l| l.tensors()).next().map(|t| t.device().clone()).unwrap_or(Device::Cpu)
    }

    /// The weight of layer `index` (a convolution's `(out, in, k, k)`, a linear layer's
    /// `(out, in)`), e.g. conv1's filters to look at.
    pub fn weight(&self, index: usize) -> Result<Tensor> {
        let layer = self.layers.get(index).ok_or_else(|| {
            Error::config(format!("{} has layers 0 to {}, not {index}", self.name, self.layers.len().saturating_sub(1)))
        })?;
        layer.tensors().into_iter().next().ok_or_else(|| {
            Error::config(format!("layer {index} of {} ({}) has no weight", self.name, layer.spec().describe()))
        })
    }

    /// The trainable parameters as variables named the PyTorch way (`"3.weight"`, `"3.bias"`),
    /// e.g. for an optimiser: the network's own tensors, so updating them trains this network.
    pub fn vars(&self) -> Result<Vec<(String, candle_core::Var)>> {
        let mut out = vec![];
        for l in &self.layers {
            for (t, kind) in l.tensors().into_iter().zip(["weight", "bias"]) {
                if !t.is_variable() {
                    return Err(Error::config(format!(
                        "layer {} of {} holds a constant {kind}, not a trainable variable (built from a checkpoint's \
                         tensors?): build the network with ModelKind::init to train it",
                        l.index(),
                        self.name
                    )));
                }
                out.push((format!("{}.{kind}", l.index()), candle_core::Var::from_tensor(&t)?));
            }
        }
        Ok(out)
    }

    /// Total trainable parameters, counted from the layers' tensors.
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.num_params()).sum()
    }

    /// Checks that `xs` is a batch `(n, c, h, w)` this network takes, naming the expected shape.
    pub(crate) fn check_input(&self, xs: &Tensor) -> Result<()> {
        let [c, h, w] = self.input;
        match xs.dims() {
            [n, cc, hh, ww] if *n > 0 && [*cc, *hh, *ww] == self.input => Ok(()),
            got => Err(Error::config(format!(
                "{} expects input of shape (batch, {c}, {h}, {w}), got {got:?}",
                self.name
            ))),
        }
    }

    /// Forward pass with an input check (`train` turns dropout on). A convolution or linear
    /// layer followed by a ReLU runs as one op ([`crate::kernels::conv::conv2d_relu`],
    /// [`crate::kernels::linear::linear`]); the result is the same.
    pub fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        self.check_input(xs)?;
        let seed = if train { self.next_dropout_seed() } else { 0 };
        let mut x = xs.clone();
        let mut i = 0;
        while let Some(l) = self.layers.get(i) {
            match l.forward_with_relu(&x, self.layers.get(i + 1), self.kernels) {
                Some(y) => {
                    x = y?;
                    i += 2;
                }
                None => {
                    x = l.forward_seeded(&x, train, seed, self.kernels)?;
                    i += 1;
                }
            }
        }
        Ok(x)
    }

    fn next_dropout_seed(&self) -> u64 {
        let s = self.dropout_seed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::sys::rng::mix(s, 0x5EED, 0)
    }

    /// Runs `xs` through the layers one by one and returns every layer's output,
    /// the lecture's `for layer in net: X = layer(X)` loop.
    pub fn forward_layers(&self, xs: &Tensor, train: bool) -> Result<Vec<Tensor>> {
        self.check_input(xs)?;
        let seed = if train { self.next_dropout_seed() } else { 0 };
        let mut x = xs.clone();
        let mut outs = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            x = l.forward_seeded(&x, train, seed, self.kernels)?;
            outs.push(x.clone());
        }
        Ok(outs)
    }
}

impl ModuleT for Sequential {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.forward(xs, train).map_err(candle_core::Error::from)
    }
}

/// Refuses, before anything is allocated, a model whose `copies` x its parameters in f32 (1:
/// the weights; 3 for training: weights, gradients, momentum) exceed the memory this machine has
/// available now (CPU; a GPU reports running out itself, as an error). A 4096x4096 input gives
/// AlexNet a first dense layer of 16.6 G parameters: building it aborted the process.
/// `own_side` is the image side the model is made for, which the error suggests.
pub(crate) fn check_fits(name: &str, input: &[usize], specs: &[LayerSpec], copies: u64, own_side: usize, device: &Device) -> Result<()> {
    let params: u64 = specs.iter().map(|s| s.num_params() as u64).sum();
    let need = params.saturating_mul(4).saturating_mul(copies);
    let Some(available) = device.is_cpu().then(crate::sys::proc::available_bytes).flatten() else { return Ok(()) };
    if need <= available {
        return Ok(());
    }
    let gib = crate::sys::proc::gib;
    Err(Error::config(format!(
        "{name} for a {input:?} input has {params} parameters: {} in f32{}, more than the {} this machine has \
         available; use a smaller image size ({name}'s own is {})",
        gib(params.saturating_mul(4)),
        if copies > 1 { format!(", {} with their gradients and momentum for training", gib(need)) } else { String::new() },
        gib(available),
        own_side
    )))
}

/// Builds a freshly initialised network (d2l's `train_ch6` init, seeded) and the `VarMap`
/// holding its parameters (for an optimiser or for saving).
pub(crate) fn init_sequential(
    name: &str,
    input: [usize; 3],
    own_side: usize,
    specs: &[LayerSpec],
    seed: u64,
    device: &Device,
) -> Result<(Sequential, VarMap)> {
    infer_shapes(specs, &input)?;
    check_fits(name, &input, specs, 1, own_side, device)?;
    let varmap = xavier_varmap(specs, seed, DType::F32, device)?;
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    Ok((Sequential::new(name, input, specs, vb)?, varmap))
}

