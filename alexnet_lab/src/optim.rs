//! SGD as PyTorch's `torch.optim.SGD` (lr; optional momentum and weight decay, default off
//! as in d2l's `train_ch6`).

use std::collections::HashMap;

use candle_core::{backprop::GradStore, Tensor, Var};

use crate::{Error, Result};

pub struct Sgd {
    names: Vec<String>,
    vars: Vec<Var>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    velocity: Vec<Option<Tensor>>,
}

impl Sgd {
    /// `vars` are `(name, var)` pairs, e.g. from a `VarMap`.
    pub fn new(vars: Vec<(String, Var)>, lr: f64, momentum: f64, weight_decay: f64) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(format!("learning rate must be a positive number, got {lr} (e.g. --lr 0.01)")));
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::config(format!("momentum must be in [0, 1), got {momentum}")));
        }
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::config(format!("weight decay must be >= 0, got {weight_decay}")));
        }
        let n = vars.len();
        let (names, vars) = vars.into_iter().unzip();
        Ok(Self { names, vars, lr, momentum, weight_decay, velocity: vec![None; n] })
    }

    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// One update: `g += wd * p; v = momentum * v + g; p -= lr * v`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        for (var, vel) in self.vars.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
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

    /// Restores momentum buffers saved by [`Sgd::state`].
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        for ((n, var), vel) in self.names.iter().zip(&self.vars).zip(self.velocity.iter_mut()) {
            if let Some(t) = state.get(&format!("momentum.{n}")) {
                if t.dims() != var.dims() {
                    return Err(Error::data(format!(
                        "optimizer state for {n} has shape {:?}, the parameter {:?}",
                        t.dims(),
                        var.dims()
                    )));
                }
                *vel = Some(t.to_device(var.device())?);
            }
        }
        Ok(())
    }
}
