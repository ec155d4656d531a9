//! `alexnet-lab gpu-check`: every op of a device's path, forward and backward, against the CPU
//! ops (the reference) on the same inputs, at AlexNet's shapes and at odd ones (batch 1 and 3,
//! non-square inputs, other strides and paddings, ties in the pooling windows).
//!
//! Tolerances, as the largest absolute difference over the largest absolute reference value of
//! each result: the max-pool and the dropout mask must be bit-equal (the same arg-max, the same
//! order of the sums, the same Philox words); convolutions within [`FP32_TOL`] under FP32 math
//! (cuDNN and the CPU sum in different orders) and [`TF32_TOL`] under TF32 (a 10-bit mantissa in
//! the products, PyTorch's default on these cards).

use candle_core::{DType, Device, Result, Tensor, Var};

/// Convolutions under FP32 math: relative to the largest reference value.
pub const FP32_TOL: f64 = 1e-4;
/// Convolutions under TF32 math.
pub const TF32_TOL: f64 = 1e-2;

/// One result of one op compared with the CPU's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpCheck {
    pub op: String,
    pub case: String,
    /// Largest `|device - cpu|`.
    pub max_abs: f64,
    /// `max_abs` over the largest `|cpu|`.
    pub rel: f64,
    /// The bound `rel` must keep (0: bit-equal).
    pub tol: f64,
    pub ok: bool,
}

impl std::fmt::Display for OpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<4} {:<22} {:<44} max |diff| {:.3e}  rel {:.3e}  (bound {})",
            if self.ok { "ok" } else { "FAIL" },
            self.op,
            self.case,
            self.max_abs,
            self.rel,
            if self.tol == 0.0 { "bit-equal".to_string() } else { format!("{:.0e}", self.tol) }
        )
    }
}

/// `dev` (any device) against `cpu`, within `tol` of the largest `|cpu|` (0: bit-equal).
pub fn compare(op: &str, case: &str, cpu: &Tensor, dev: &Tensor, tol: f64) -> Result<OpCheck> {
    if cpu.dims() != dev.dims() {
        candle_core::bail!("{op} ({case}): shape {:?} on the device, {:?} on the CPU", dev.dims(), cpu.dims());
    }
    let (a, b) = (cpu.flatten_all()?.to_vec1::<f32>()?, dev.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?);
    let scale = a.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let bit_equal = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
    let max_abs = a.iter().zip(&b).fold(0f64, |m, (x, y)| {
        let d = f64::from((x - y).abs());
        if d.is_nan() { f64::INFINITY } else { m.max(d) }
    });
    let rel = if scale > 0.0 { max_abs / scale } else { max_abs };
    let ok = if tol == 0.0 { bit_equal } else { rel <= tol };
    Ok(OpCheck { op: op.to_string(), case: case.to_string(), max_abs, rel, tol, ok })
}

/// A seeded tensor of uniform values in `[-1, 1)` (or the integers 0, 1, 2, for ties), on the
/// CPU, from the Philox words of `seed`.
pub fn input(dims: &[usize], seed: u64, integers: bool) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let key = super::philox::key_of(seed);
    let vals: Vec<f32> = (0..n)
        .map(|e| {
            let u = super::philox::word(key, e);
            if integers { (u % 3) as f32 } else { (u >> 8) as f32 / 8_388_608.0 - 1.0 }
        })
        .collect();
    Tensor::from_vec(vals, dims, &Device::Cpu)
}

/// The number of rows [`against_cpu`] returns: 9 convolutions x 4 results, 4 poolings x 2, 2 masks.
pub const ROWS: usize = 9 * 4 + 4 * 2 + 2;

/// `relu(conv2d(x, w, b))` and its three gradients under a random weighting of the output.
fn conv_grads(x: &Tensor, w: &Tensor, b: &Tensor, r: &Tensor, stride: usize, pad: usize) -> Result<[Tensor; 4]> {
    let (x, w, b) = (Var::from_tensor(x)?, Var::from_tensor(w)?, Var::from_tensor(b)?);
    let y = super::conv2d_relu(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), stride, pad, super::Kernels::Lab)?;
    let grads = (&y * r)?.sum_all()?.backward()?;
    let g = |v: &Var| grads.get(v.as_tensor()).cloned().ok_or_else(|| candle_core::Error::Msg("conv2d: a gradient is missing".into()));
    Ok([y.clone(), g(&x)?, g(&w)?, g(&b)?])
}

fn pool_grads(x: &Tensor, r: &Tensor, k: usize, s: usize) -> Result<[Tensor; 2]> {
    let x = Var::from_tensor(x)?;
    let y = super::max_pool2d_t(x.as_tensor(), k, s, true, super::Kernels::Lab)?;
    let grads = (&y * r)?.sum_all()?.backward()?;
    let gx = grads.get(x.as_tensor()).cloned().ok_or_else(|| candle_core::Error::Msg("max_pool2d: no gradient".into()))?;
    Ok([y, gx])
}

/// The dropout mask of `x`'s shape on `x`'s device.
fn mask_on(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    #[cfg(feature = "cuda")]
    if x.device().is_cuda() {
        return super::cuda::dropout_mask(x, p, seed);
    }
    Tensor::from_vec(super::philox::dropout_mask(seed, p, x.elem_count()), x.shape(), x.device())
}

/// Every op on `device` against the CPU, convolutions with bound `conv_tol` ([`FP32_TOL`] or
/// [`TF32_TOL`] as the device's math is set).
pub fn against_cpu(device: &Device, conv_tol: f64) -> Result<Vec<OpCheck>> {
    let mut rows = vec![];
    // (case, x dims, filters, kernel, stride, pad): AlexNet's five at 224x224 (batch 2), then
    // odd ones.
    let convs = [
        ("conv1 224x224 11/4 pad 1, batch 2", [2, 1, 224, 224], 96, 11, 4, 1),
        ("conv2 26x26 5/1 pad 2, batch 2", [2, 96, 26, 26], 256, 5, 1, 2),
        ("conv3 12x12 3/1 pad 1, batch 2", [2, 256, 12, 12], 384, 3, 1, 1),
        ("conv4 12x12 3/1 pad 1, batch 2", [2, 384, 12, 12], 384, 3, 1, 1),
        ("conv5 12x12 3/1 pad 1, batch 2", [2, 384, 12, 12], 256, 3, 1, 1),
        ("batch 1, 3 channels 13x17, 3/2 pad 0", [1, 3, 13, 17], 8, 3, 2, 0),
        ("batch 3, 5 channels 9x14, 5/1 pad 2", [3, 5, 9, 14], 7, 5, 1, 2),
        ("batch 3, 4 channels 10x7, 1/1 pad 0", [3, 4, 10, 7], 6, 1, 1, 0),
        ("batch 1, 2 channels 30x30, 4/3 pad 3", [1, 2, 30, 30], 4, 4, 3, 3),
    ];
    for (i, (case, xd, o, k, s, p)) in convs.into_iter().enumerate() {
        let seed = 100 + i as u64 * 4;
        let x = input(&xd, seed, false)?;
        let w = (input(&[o, xd[1], k, k], seed + 1, false)? * 0.1)?;
        let b = input(&[o], seed + 2, false)?;
        let oh = (xd[2] + 2 * p - k) / s + 1;
        let ow = (xd[3] + 2 * p - k) / s + 1;
        let r = input(&[xd[0], o, oh, ow], seed + 3, false)?;
        let cpu = conv_grads(&x, &w, &b, &r, s, p)?;
        let on = |t: &Tensor| t.to_device(device);
        let dev = conv_grads(&on(&x)?, &on(&w)?, &on(&b)?, &on(&r)?, s, p)?;
        for (name, c, d) in ["conv2d+relu", "  input gradient", "  weight gradient", "  bias gradient"].into_iter().zip(&cpu).zip(&dev).map(|((n, c), d)| (n, c, d)) {
            rows.push(compare(name, case, c, d, conv_tol)?);
        }
    }
    let pools = [
        ("pool1 54x54 3/2, batch 2", [2, 96, 54, 54], 3, 2, false),
        ("3/2 with ties (values 0, 1, 2)", [2, 16, 26, 26], 3, 2, true),
        ("batch 3, 13x17 3/2", [3, 5, 13, 17], 3, 2, false),
        ("batch 1, 12x12 2/2", [1, 4, 12, 12], 2, 2, false),
    ];
    for (i, (case, xd, k, s, ties)) in pools.into_iter().enumerate() {
        let seed = 300 + i as u64 * 2;
        let x = input(&xd, seed, ties)?;
        let r = input(&[xd[0], xd[1], (xd[2] - k) / s + 1, (xd[3] - k) / s + 1], seed + 1, false)?;
        let cpu = pool_grads(&x, &r, k, s)?;
        let dev = pool_grads(&x.to_device(device)?, &r.to_device(device)?, k, s)?;
        rows.push(compare("max_pool2d", case, &cpu[0], &dev[0], 0.0)?);
        rows.push(compare("  input gradient", case, &cpu[1], &dev[1], 0.0)?);
    }
    for (case, n, p, seed) in [("4,099 values, p 0.5", 4099usize, 0.5f32, 7u64), ("dense1's 128x4096, p 0.5", 128 * 4096, 0.5, 1 << 40)] {
        let x = Tensor::zeros(n, DType::F32, device)?;
        let cpu = Tensor::from_vec(super::philox::dropout_mask(seed, p, n), n, &Device::Cpu)?;
        rows.push(compare("dropout mask", case, &cpu, &mask_on(&x, p, seed)?, 0.0)?);
    }
    Ok(rows)
}
