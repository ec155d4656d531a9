//! The building blocks of the lab's sequential networks.
//!
//! A [`LayerSpec`] is the description of one layer of a PyTorch `nn.Sequential` (its class
//! name, its hyper-parameters); it knows its output shape, its parameter count and its
//! multiply-adds. A [`Layer`] is the spec plus its candle weights, runnable as a `ModuleT`.
//! The complexity table and the shape walk are both computed from these, never typed in.

use candle_core::{ModuleT, Result, Tensor};
use candle_nn::{Conv2dConfig, VarBuilder};

use crate::error::ShapeError;
use crate::kernels::{pool, Kernels};

/// One layer of a sequential network, as PyTorch's `nn.Sequential` would hold it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind")]
pub enum LayerSpec {
    Conv2d { in_channels: usize, out_channels: usize, kernel: usize, stride: usize, padding: usize },
    MaxPool2d { kernel: usize, stride: usize },
    AvgPool2d { kernel: usize, stride: usize },
    ReLU,
    Sigmoid,
    Flatten,
    Linear { in_features: usize, out_features: usize },
    Dropout { p: f64 },
}

impl LayerSpec {
    /// PyTorch's class name of the layer (`Conv2d`, `ReLU`, `MaxPool2d`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conv2d { .. } => "Conv2d",
            Self::MaxPool2d { .. } => "MaxPool2d",
            Self::AvgPool2d { .. } => "AvgPool2d",
            Self::ReLU => "ReLU",
            Self::Sigmoid => "Sigmoid",
            Self::Flatten => "Flatten",
            Self::Linear { .. } => "Linear",
            Self::Dropout { .. } => "Dropout",
        }
    }

    /// The layer as PyTorch prints it, e.g. `Conv2d(1, 96, kernel_size=11, stride=4, padding=1)`.
    pub fn describe(&self) -> String {
        match *self {
            Self::Conv2d { in_channels, out_channels, kernel, stride, padding } => format!(
                "Conv2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}, padding={padding})"
            ),
            Self::MaxPool2d { kernel, stride } => format!("MaxPool2d(kernel_size={kernel}, stride={stride})"),
            Self::AvgPool2d { kernel, stride } => format!("AvgPool2d(kernel_size={kernel}, stride={stride})"),
            Self::ReLU => "ReLU()".into(),
            Self::Sigmoid => "Sigmoid()".into(),
            Self::Flatten => "Flatten()".into(),
            Self::Linear { in_features, out_features } => {
                format!("Linear(in_features={in_features}, out_features={out_features})")
            }
            Self::Dropout { p } => format!("Dropout(p={p})"),
        }
    }

    /// Output shape for one example of shape `input` (without the batch dimension).
    pub fn output_shape(&self, index: usize, input: &[usize]) -> std::result::Result<Vec<usize>, ShapeError> {
        let err = |why: String| ShapeError { index, layer: self.describe(), got: input.to_vec(), why };
        let chw = || -> std::result::Result<(usize, usize, usize), ShapeError> {
            match *input {
                [c, h, w] => Ok((c, h, w)),
                _ => Err(err("expected a (channels, height, width) feature map".into())),
            }
        };
        match *self {
            Self::Conv2d { in_channels, out_channels, kernel, stride, padding } => {
                let (c, h, w) = chw()?;
                if c != in_channels {
                    return Err(err(format!("expected {in_channels} input channels, got {c}")));
                }
                let (hp, wp) = (h + 2 * padding, w + 2 * padding);
                if hp < kernel || wp < kernel {
                    return Err(err(format!(
                        "the padded input {hp}x{wp} is smaller than the {kernel}x{kernel} kernel"
                    )));
                }
                Ok(vec![out_channels, (hp - kernel) / stride + 1, (wp - kernel) / stride + 1])
            }
            Self::MaxPool2d { kernel, stride } | Self::AvgPool2d { kernel, stride } => {
                let (c, h, w) = chw()?;
                if h < kernel || w < kernel {
                    return Err(err(format!("the {h}x{w} input is smaller than the {kernel}x{kernel} window")));
                }
                Ok(vec![c, (h - kernel) / stride + 1, (w - kernel) / stride + 1])
            }
            Self::ReLU | Self::Sigmoid | Self::Dropout { .. } => Ok(input.to_vec()),
            Self::Flatten => Ok(vec![input.iter().product()]),
            Self::Linear { in_features, out_features } => match *input {
                [f] if f == in_features => Ok(vec![out_features]),
                _ => Err(err(format!("expected [{in_features}] features"))),
            },
        }
    }

    /// Number of trainable parameters the spec implies (weights + biases).
    pub fn num_params(&self) -> usize {
        match *self {
            Self::Conv2d { in_channels, out_channels, kernel, .. } => {
                out_channels * in_channels * kernel * kernel + out_channels
            }
            Self::Linear { in_features, out_features } => out_features * in_features + out_features,
            _ => 0,
        }
    }

    /// Multiply-adds per example to produce `output` (bias additions, activations and pooling
    /// comparisons are not counted, as is usual for MAC counts).
    pub fn macs(&self, output: &[usize]) -> u64 {
        let out: u64 = output.iter().map(|&d| d as u64).product();
        match *self {
            Self::Conv2d { in_channels, kernel, .. } => out * (in_channels * kernel * kernel) as u64,
            Self::Linear { in_features, .. } => out * in_features as u64,
            _ => 0,
        }
    }
}

enum Op {
    Conv(candle_nn::Conv2d),
    Linear(candle_nn::Linear),
    Dropout(f32),
    Other,
}

/// A layer with its weights, runnable on a batch (`forward_t(x, train)`).
pub struct Layer {
    index: usize,
    spec: LayerSpec,
    op: Op,
}

impl Layer {
    /// Builds layer `index` of a sequential net; weights are read from `vb` under
    /// `"{index}.weight"` / `"{index}.bias"`, the names PyTorch's `state_dict` uses.
    pub fn new(index: usize, spec: LayerSpec, vb: &VarBuilder) -> Result<Self> {
        let vb = vb.pp(index.to_string());
        let op = match spec {
            LayerSpec::Conv2d { in_channels, out_channels, kernel, stride, padding } => {
                let cfg = Conv2dConfig { padding, stride, ..Default::default() };
                Op::Conv(candle_nn::conv2d(in_channels, out_channels, kernel, cfg, vb)?)
            }
            LayerSpec::Linear { in_features, out_features } => {
                Op::Linear(candle_nn::linear(in_features, out_features, vb)?)
            }
            LayerSpec::Dropout { p } => Op::Dropout(p as f32),
            _ => Op::Other,
        };
        Ok(Self { index, spec, op })
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn spec(&self) -> &LayerSpec {
        &self.spec
    }

    /// PyTorch's class name (`Conv2d`, ...), as the lecture's shape loop prints it.
    pub fn name(&self) -> &'static str {
        self.spec.kind()
    }

    /// The layer's own tensors: `[weight, bias]` for conv/linear, none otherwise.
    pub fn tensors(&self) -> Vec<Tensor> {
        match &self.op {
            Op::Conv(c) => std::iter::once(c.weight().clone()).chain(c.bias().cloned()).collect(),
            Op::Linear(l) => std::iter::once(l.weight().clone()).chain(l.bias().cloned()).collect(),
            _ => vec![],
        }
    }

    /// Parameters counted from the layer's actual tensors.
    pub fn num_params(&self) -> usize {
        self.tensors().iter().map(|t| t.elem_count()).sum()
    }
}

impl Layer {
    /// A convolution or linear layer and the ReLU after it (`next`) as one op; `None` when this
    /// layer is neither or `next` is not a ReLU.
    pub(crate) fn forward_with_relu(&self, xs: &Tensor, next: Option<&Layer>, kernels: Kernels) -> Option<Result<Tensor>> {
        match (&self.op, self.spec, next.map(|n| n.spec)) {
            (Op::Conv(c), LayerSpec::Conv2d { stride, padding, .. }, Some(LayerSpec::ReLU)) => {
                Some(crate::kernels::conv::conv2d_relu(xs, c.weight(), c.bias(), stride, padding, kernels))
            }
            (Op::Linear(l), _, Some(LayerSpec::ReLU)) => {
                Some(crate::kernels::linear::linear(xs, l.weight(), l.bias(), true, kernels))
            }
            _ => None,
        }
    }
}

/// Inverted dropout with a seeded mask: each element is kept with probability `1 - p` and
/// scaled by `1 / (1 - p)` (PyTorch's `nn.Dropout`, candle's `ops::dropout`). Element `e` of the
/// mask is a pure function of `(seed, e)`, drawn by the counter-based generator Philox4x32-10
/// ([`crate::kernels::philox`]; not a thread-local generator, as candle's): on the CPU in
/// parallel blocks, on a CUDA device by the lab's kernel, the same bits on both and for any
/// number of threads, so a run with the same seed draws the same masks, resumed or not.
pub fn dropout(xs: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    if !(0.0..1.0).contains(&p) {
        candle_core::bail!("dropout probability has to be in [0, 1), got {p}")
    }
    // On a CUDA device the mask is drawn there: nothing is uploaded per step.
    #[cfg(feature = "cuda")]
    if xs.device().is_cuda() && xs.dtype() == candle_core::DType::F32 {
        return xs * crate::kernels::cuda::dropout_mask(xs, p, seed)?;
    }
    let mask = crate::kernels::philox::dropout_mask(seed, p, xs.elem_count());
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    xs * mask
}

impl Layer {
    /// [`ModuleT::forward_t`] with the seed for this call's dropout mask (used in train mode)
    /// and the network's choice of kernels.
    pub(crate) fn forward_seeded(&self, xs: &Tensor, train: bool, seed: u64, kernels: Kernels) -> Result<Tensor> {
        match (&self.op, train) {
            (Op::Dropout(p), true) => dropout(xs, *p, self.mask_seed(seed)),
            _ => self.forward_with(xs, train, kernels),
        }
    }

    /// This layer's dropout-mask seed for a forward pass's seed.
    fn mask_seed(&self, pass_seed: u64) -> u64 {
        crate::sys::rng::mix(pass_seed, self.index as u64, 0xD50)
    }
}

impl ModuleT for Layer {
    /// In train mode a dropout layer draws its mask from a generator seeded with 0; the network
    /// ([`crate::Sequential::forward`]) passes a new seed for every training step instead. The
    /// lab's kernels ([`Kernels::Lab`]); the network passes its own choice.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_with(xs, train, Kernels::Lab)
    }
}

impl Layer {
    fn forward_with(&self, xs: &Tensor, train: bool, kernels: Kernels) -> Result<Tensor> {
        match (&self.op, self.spec) {
            (Op::Conv(c), LayerSpec::Conv2d { stride, padding, .. }) => {
                crate::kernels::conv::conv2d(xs, c.weight(), c.bias(), stride, padding, kernels)
            }
            (Op::Linear(l), _) => crate::kernels::linear::linear(xs, l.weight(), l.bias(), false, kernels),
            (Op::Dropout(p), _) if train => dropout(xs, *p, self.mask_seed(0)),
            (Op::Dropout(_), _) => Ok(xs.clone()),
            (_, LayerSpec::MaxPool2d { kernel, stride }) => pool::max_pool2d_t(xs, kernel, stride, train, kernels),
            (_, LayerSpec::AvgPool2d { kernel, stride }) => xs.avg_pool2d_with_stride(kernel, stride),
            (_, LayerSpec::ReLU) => xs.relu(),
            (_, LayerSpec::Sigmoid) => candle_nn::ops::sigmoid(xs),
            (_, LayerSpec::Flatten) => xs.flatten_from(1),
            (_, spec) => candle_core::bail!("layer {} ({}) has no runnable op", self.index, spec.describe()),
        }
    }
}
