//! SGD as PyTorch's `torch.optim.SGD` (lr; optional momentum and weight decay, default off
//! as in d2l's `train_ch6`).
//!
//! On the CPU the update runs in place ([`crate::kernels::sgd`]); elsewhere (and with
//! [`Kernels::Candle`], [`Sgd::with_kernels`]) the same formula runs as tensor operations. `Sgd` is a
//! [`candle_nn::Optimizer`], so code written for candle's optimisers can take it.

use std::collections::HashMap;

use candle_core::{backprop::GradStore, DType, Tensor, Var};

use crate::kernels::sgd::{Axpby, Velocity};
use crate::kernels::GradSink;
use crate::nn::Sequential;
use crate::kernels::Kernels;
use crate::{Error, Result};

/// SGD's hyper-parameters (PyTorch's defaults: no momentum, no weight decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Checks the values, naming the problem and the fix.
    pub fn validate(&self) -> Result<()> {
        let Self { lr, momentum, weight_decay } = *self;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::invalid("lr", format!("learning rate must be a positive number, got {lr} (e.g. 0.01)")));
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::invalid("momentum", format!("momentum must be in [0, 1), got {momentum} (e.g. 0.9)")));
        }
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::invalid("weight_decay", format!("weight decay must be >= 0, got {weight_decay} (e.g. 5e-4)")));
        }
        Ok(())
    }
}

pub struct Sgd {
    names: Vec<String>,
    vars: Vec<Var>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    velocity: Vec<Option<Tensor>>,
    kernels: Kernels,
}

impl Sgd {
    /// SGD over `vars`, `(name, var)` pairs (e.g. [`named_vars`] of a `VarMap`, sorted by
    /// name; the names key the momentum buffers in [`Sgd::state`]), with `config` checked.
    pub fn new(vars: Vec<(String, Var)>, config: SgdConfig) -> Result<Self> {
        config.validate()?;
        let SgdConfig { lr, momentum, weight_decay } = config;
        let n = vars.len();
        let (names, vars) = vars.into_iter().unzip();
        Ok(Self { names, vars, lr, momentum, weight_decay, velocity: vec![None; n], kernels: Kernels::Lab })
    }

    /// The same optimiser running its update with `kernels` (the lab's in-place update by
    /// default; [`Kernels::Candle`]: tensor operations).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate of the next steps (a schedule's; the value is not checked here:
    /// [`crate::train::TrainConfig::validate`] checks the peak).
    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// One update: `g += wd * p; v = momentum * v + g; p -= lr * v` (PyTorch's order; the
    /// first step starts from `v = g`).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        for (var, vel) in self.vars.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let p = var.as_tensor();
            let fused = self.kernels.lab_on_cpu(p)
                && p.dtype() == DType::F32
                && g.dtype() == DType::F32
                && p.is_contiguous()
                && g.is_contiguous()
                && g.dims() == p.dims();
            if fused {
                let (lr, m, wd) = (self.lr as f32, self.momentum as f32, self.weight_decay as f32);
                if self.momentum > 0.0 {
                    let v = match vel {
                        Some(v) => v.clone(),
                        None => vel.insert(p.zeros_like()?).clone(),
                    };
                    v.inplace_op3(g, p, &Velocity { momentum: m, weight_decay: wd })?;
                    p.inplace_op2(&v, &Axpby { a: 1.0, b: -lr })?;
                } else {
                    p.inplace_op2(g, &Axpby { a: 1.0 - lr * wd, b: -lr })?;
                }
                continue;
            }
            let mut g = g.clone();
            if self.weight_decay > 0.0 {
                g = (g + (var.as_tensor() * self.weight_decay)?)?;
            }
            if self.momentum > 0.0 {
                let v = match vel.take() {
                    Some(v) => ((v * self.momentum)? + g)?,
                    None => g,
                };
                *vel = Some(v.clone());
                g = v;
            }
            var.set(&(var.as_tensor() - (g * self.lr)?)?)?;
        }
        Ok(())
    }

    /// Momentum buffers by parameter name (for checkpoints); empty without momentum.
    pub fn state(&self) -> HashMap<String, Tensor> {
        self.names
            .iter()
            .zip(&self.velocity)
            .filter_map(|(n, v)| v.as_ref().map(|v| (format!("momentum.{n}"), v.clone())))
            .collect()
    }

    /// Restores momentum buffers saved by [`Sgd::state`] (`what` names their file in errors).
    /// With momentum every parameter's buffer must be there, of its shape and dtype: a resumed
    /// run with a buffer missing would silently restart that parameter's momentum.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, what: &str) -> Result<()> {
        for ((n, var), vel) in self.names.iter().zip(&self.vars).zip(self.velocity.iter_mut()) {
            let key = format!("momentum.{n}");
            match state.get(&key) {
                Some(t) if t.dims() != var.dims() || t.dtype() != var.dtype() => {
                    return Err(Error::data(format!(
                        "{what}: `{key}` is {:?} {:?}, the parameter is {:?} {:?}: the file belongs to another model",
                        t.dtype(),
                        t.dims(),
                        var.dtype(),
                        var.dims()
                    )))
                }
                Some(t) => *vel = Some(t.to_device(var.device())?),
                None if self.momentum != 0.0 => {
                    return Err(Error::data(format!(
                        "{what} has no `{key}`: the momentum of that parameter is missing (the file is damaged or \
                         from another model); train into another run folder"
                    )))
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The name of the first parameter or momentum buffer holding a NaN or an infinity (or
    /// values so large that their sum overflows), if any: one sum per tensor, cheap next to a
    /// training step.
    pub fn first_non_finite(&self) -> Result<Option<String>> {
        let tensors = self.names.iter().zip(&self.vars).map(|(n, v)| (n.clone(), v.as_tensor().clone()));
        let momenta = self.names.iter().zip(&self.velocity).filter_map(|(n, v)| v.clone().map(|v| (format!("momentum.{n}"), v)));
        for (name, t) in tensors.chain(momenta) {
            let sum = t.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            if !sum.is_finite() {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}


/// `(name, var)` pairs of a VarMap, sorted by name.
pub fn named_vars(varmap: &candle_nn::VarMap) -> Vec<(String, Var)> {
    let mut v: Vec<_> =
        varmap.data().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl candle_nn::Optimizer for Sgd {
    type Config = SgdConfig;

    /// Parameters without names get their position as name (`"0"`, `"1"`, ...).
    fn new(vars: Vec<Var>, config: SgdConfig) -> candle_core::Result<Self> {
        let named = vars.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect();
        Sgd::new(named, config).map_err(candle_core::Error::from)
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        Sgd::step(self, grads).map_err(candle_core::Error::from)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// One training step's forward and backward: the logits of `images` (in train mode), the
/// cross-entropy loss against `labels`, and every parameter's gradient. The lab's convolution
/// and linear ops hand their parameters' gradients straight to the store ([`GradSink`])
/// instead of candle adding each to a zero-filled buffer: the same store, with the same
/// values, without two passes over every parameter.
pub fn loss_and_gradients(net: &Sequential, images: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor, GradStore)> {
    let sink = GradSink::new();
    let (logits, loss) = forward_loss(net, images, labels, &sink)?;
    let grads = gradients(&loss, &sink)?;
    Ok((logits, loss, grads))
}

/// The forward half of [`loss_and_gradients`]: logits in train mode and the cross-entropy, the
/// lab's ops holding their parameters for `sink`.
pub(crate) fn forward_loss(net: &Sequential, images: &Tensor, labels: &Tensor, sink: &GradSink) -> Result<(Tensor, Tensor)> {
    let logits = sink.scope(|| net.forward(images, true))?;
    let loss = candle_nn::loss::cross_entropy(&logits, labels)?;
    Ok((logits, loss))
}

/// The backward half: every parameter's gradient, those of the lab's ops from `sink`.
pub(crate) fn gradients(loss: &Tensor, sink: &GradSink) -> Result<GradStore> {
    let mut grads = loss.backward()?;
    sink.drain_into(&mut grads)?;
    Ok(grads)
}
