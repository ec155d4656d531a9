//! Weight initialisation as d2l's `train_ch6` does it, seedable.
//!
//! `train_ch6` applies `nn.init.xavier_uniform_` to the weight of every `Linear` and `Conv2d`;
//! biases keep PyTorch's default, uniform in ±1/√fan_in. candle-nn has no Xavier init, so the
//! bound √(6 / (fan_in + fan_out)) is applied here with a seeded generator.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rand::{distr::Uniform, rngs::StdRng, Rng, SeedableRng};

use crate::nn::LayerSpec;
use crate::Result;

/// `(fan_in, fan_out)` of a layer's weight, as PyTorch computes them.
pub fn fans(spec: &LayerSpec) -> Option<(usize, usize)> {
    match *spec {
        LayerSpec::Conv2d { in_channels, out_channels, kernel, .. } => {
            Some((in_channels * kernel * kernel, out_channels * kernel * kernel))
        }
        LayerSpec::Linear { in_features, out_features } => Some((in_features, out_features)),
        _ => None,
    }
}

/// Bound `a` of Xavier-uniform, U(-a, a) with a = √(6 / (fan_in + fan_out)).
pub fn xavier_bound(fan_in: usize, fan_out: usize) -> f64 {
    (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// PyTorch's default bias bound 1/√fan_in.
pub fn bias_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

/// Shapes of `(weight, bias)` of a layer with parameters.
pub(crate) fn param_shapes(spec: &LayerSpec) -> Option<(Vec<usize>, usize)> {
    match *spec {
        LayerSpec::Conv2d { in_channels, out_channels, kernel, .. } => {
            Some((vec![out_channels, in_channels, kernel, kernel], out_channels))
        }
        LayerSpec::Linear { in_features, out_features } => Some((vec![out_features, in_features], out_features)),
        _ => None,
    }
}

fn uniform(rng: &mut StdRng, n: usize, bound: f64) -> Result<Vec<f32>> {
    let dist = Uniform::new_inclusive(-bound as f32, bound as f32)
        .map_err(|e| crate::Error::config(format!("cannot draw initial weights in [-{bound}, {bound}]: {e}")))?;
    Ok((0..n).map(|_| rng.sample(dist)).collect())
}

/// A `VarMap` holding freshly initialised `"{index}.weight"` / `"{index}.bias"` for every
/// conv and dense layer of `specs` (Xavier-uniform weights, PyTorch-default biases).
/// The same seed gives the same weights.
pub(crate) fn xavier_varmap(specs: &[LayerSpec], seed: u64, dtype: DType, device: &Device) -> Result<VarMap> {
    let mut rng = StdRng::seed_from_u64(seed);
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().map_err(|_| crate::Error::LockPoisoned("parameter store"))?;
        for (i, spec) in specs.iter().enumerate() {
            let (Some((fan_in, fan_out)), Some((wshape, nbias))) = (fans(spec), param_shapes(spec)) else {
                continue;
            };
            let n: usize = wshape.iter().product();
            let w = Tensor::from_vec(uniform(&mut rng, n, xavier_bound(fan_in, fan_out))?, wshape, device)?
                .to_dtype(dtype)?;
            let b = Tensor::from_vec(uniform(&mut rng, nbias, bias_bound(fan_in))?, nbias, device)?.to_dtype(dtype)?;
            data.insert(format!("{i}.weight"), candle_core::Var::from_tensor(&w)?);
            data.insert(format!("{i}.bias"), candle_core::Var::from_tensor(&b)?);
        }
    }
    Ok(varmap)
}
