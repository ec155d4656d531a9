//! ReLU vs sigmoid, and their gradients, computed with candle's autograd (the lecture's
//! "why ReLU": sigmoid's gradient vanishes away from 0, ReLU's is 1 for every positive input).

use candle_core::{Device, Tensor, Var};

use crate::report::plot::Series;
use crate::Result;

/// `(x, f(x), f'(x))` for `f` = ReLU and sigmoid at `n` points in `[lo, hi]`; the gradients
/// come from `backward()`, not from formulas.
pub fn relu_sigmoid(lo: f64, hi: f64, n: usize) -> Result<Vec<Series<'static>>> {
    let xs: Vec<f32> = (0..n).map(|i| (lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64) as f32).collect();
    let x = Var::from_tensor(&Tensor::new(xs.as_slice(), &Device::Cpu)?)?;
    let mut out = vec![];
    for (name, dname, y) in [
        ("ReLU(x)", "ReLU'(x)", x.as_tensor().relu()?),
        ("sigmoid(x)", "sigmoid'(x)", candle_nn::ops::sigmoid(x.as_tensor())?),
    ] {
        let g = y.sum_all()?.backward()?;
        let dy: Vec<f32> = g.get(x.as_tensor()).ok_or_else(|| crate::Error::config(format!("{name} gave x no gradient")))?.to_vec1()?;
        let yv: Vec<f32> = y.to_vec1()?;
        let pts = |v: &[f32]| xs.iter().zip(v).map(|(&a, &b)| (a as f64, b as f64)).collect::<Vec<_>>();
        out.push(Series { name, points: pts(&yv) });
        out.push(Series { name: dname, points: pts(&dy) });
    }
    Ok(out)
}
