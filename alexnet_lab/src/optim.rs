//! SGD as PyTorch's `torch.optim.SGD` (lr; optional momentum and weight decay, default off
//! as in d2l's `train_ch6`).
//!
//! On the CPU the update runs in place, fused (one pass over each parameter, and one over its
//! momentum buffer), instead of candle's tensor arithmetic, which allocates a fresh full-size
//! tensor per operation (four 187 MB buffers per step for d2l's AlexNet). Elsewhere the same
//! formula runs as tensor operations.

use std::collections::HashMap;

use candle_core::{backprop::GradStore, CpuStorage, DType, InplaceOp2, InplaceOp3, Layout, Tensor, Var};
use rayon::prelude::*;

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

    /// One update: `g += wd * p; v = momentum * v + g; p -= lr * v` (PyTorch's order; the
    /// first step starts from `v = g`).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        for (var, vel) in self.vars.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let p = var.as_tensor();
            let fused = p.device().is_cpu()
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

/// Chunk of elements per rayon task in the fused updates.
const CHUNK: usize = 1 << 15;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, name: &str) -> candle_core::Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{name}: expects contiguous f32 tensors"),
    }
}

fn contiguous_mut<'a>(s: &'a mut CpuStorage, l: &Layout, name: &str) -> candle_core::Result<&'a mut [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&mut v[a..b]),
        _ => candle_core::bail!("{name}: expects contiguous f32 tensors"),
    }
}

/// `dst = a * dst + b * src`, in place.
struct Axpby {
    a: f32,
    b: f32,
}

impl InplaceOp2 for Axpby {
    fn name(&self) -> &'static str {
        "sgd-axpby"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<()> {
        let src = contiguous(s2, l2, self.name())?;
        let dst = contiguous_mut(s1, l1, self.name())?;
        if dst.len() != src.len() {
            candle_core::bail!("{}: {} vs {} elements", self.name(), dst.len(), src.len());
        }
        let (a, b) = (self.a, self.b);
        dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(d, s)| {
            for (d, &s) in d.iter_mut().zip(s) {
                *d = a * *d + b * s;
            }
        });
        Ok(())
    }
}

/// The momentum buffer: `v = momentum * v + g + weight_decay * p`, in place.
struct Velocity {
    momentum: f32,
    weight_decay: f32,
}

impl InplaceOp3 for Velocity {
    fn name(&self) -> &'static str {
        "sgd-velocity"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let g = contiguous(s2, l2, self.name())?;
        let p = contiguous(s3, l3, self.name())?;
        let v = contiguous_mut(s1, l1, self.name())?;
        if v.len() != g.len() || v.len() != p.len() {
            candle_core::bail!("{}: {} / {} / {} elements", self.name(), v.len(), g.len(), p.len());
        }
        let (m, wd) = (self.momentum, self.weight_decay);
        v.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(p.par_chunks(CHUNK)).for_each(|((v, g), p)| {
            for ((v, &g), &p) in v.iter_mut().zip(g).zip(p) {
                *v = m * *v + g + wd * p;
            }
        });
        Ok(())
    }
}
