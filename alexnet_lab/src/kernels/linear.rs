//! A fully connected layer `y = [relu](x · Wᵀ + b)` as one CPU op with its own backward.
//!
//! candle_nn's `Linear` is `x.matmul(&w.t())` + a broadcast add: its backward produces the
//! weight gradient as a transposed view and adds it, element by element through the strides,
//! into a zero-filled buffer twice (once for the `t()` node, once for the weight), then the
//! bias and ReLU nodes add their own. For AlexNet's 4096x4096 layer that is ~20% of a training
//! step at 96x96. Here the three gradients come from two GEMMs that write them in place and
//! one sum; the ReLU after the layer is applied as the output is written.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, WithDType};

use super::sink::GradSink;
use super::Kernels;
use super::cpu::{
    bias_or_zeros, check_dims, contiguous, float_pair, float_triple, matmul_into, relu_in_place, transpose, ReluMask, SumToChannels,
    Threads,
};

struct LinearOp {
    relu: bool,
    /// Where the weight's and bias's gradients go instead of candle's autograd (see
    /// [`super::sink`]), when the op was built inside a sink's scope.
    sink: Option<GradSink>,
}

impl LinearOp {
    fn fwd<T: WithDType + Send + Sync>(&self, x: &[T], w: &[T], b: &[T], n: usize, i: usize) -> Result<Vec<T>> {
        let o = b.len();
        // y (n x o) = b + x (n x i) . w^T, computed as its transpose y^T (o x n) = b + w . x^T and
        // then transposed (n·o elements: 1 MB for AlexNet's 4096-wide layers at batch 64). Asked
        // for y directly, gemm first packs the whole weight, a strided gather from its (o, i)
        // rows: 22-28 ms for the 4096 x 4096 layer at batch 64 on the 2-core Zen 5 EPYC, against
        // 6-7 ms this way, which streams the weight as it lies (docs/performance.md).
        let mut yt = vec![T::zero(); o * n];
        for (row, &v) in yt.chunks_mut(n.max(1)).zip(b) {
            row.fill(v);
        }
        // y^T (o x n) += w (o x i) . x^T (i x n)
        matmul_into((o, n, i), &mut yt, true, w, (1, i), x, (i, 1))?;
        let mut y = transpose(&yt, o, n);
        if self.relu {
            relu_in_place(Threads::All, &mut y);
        }
        Ok(y)
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "alexnet-lab-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, i) = l1.shape().dims2()?;
        let (o, wi) = l2.shape().dims2()?;
        if wi != i {
            candle_core::bail!("linear: input has {i} features, the weight expects {wi}");
        }
        if o == 0 {
            candle_core::bail!("linear: the weight has 0 output features");
        }
        check_dims("linear bias", l3, &[o])?;
        let out = float_triple!("linear", s1, l1, s2, l2, s3, l3, |x, w, b| self.fwd(x, w, b, n, i)?);
        Ok((out, Shape::from((n, o))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let mut grad = grad.detach().contiguous()?;
        if self.relu {
            grad = grad.apply_op2_no_bwd(&y.detach().contiguous()?, &ReluMask)?;
        }
        let grad_x = match x.track_op() {
            true => Some(grad.apply_op2_no_bwd(&w.detach().contiguous()?, &GradInput)?),
            false => None,
        };
        let grad_w = match w.track_op() {
            true => Some(grad.apply_op2_no_bwd(&x.detach().contiguous()?, &GradWeight)?),
            false => None,
        };
        let grad_b = match b.track_op() {
            true => Some(grad.apply_op1_no_bwd(&SumToChannels)?),
            false => None,
        };
        let sink = self.sink.as_ref();
        Ok((grad_x, GradSink::route(sink, w, grad_w)?, GradSink::route(sink, b, grad_b)?))
    }
}

/// `(grad (n, o), w (o, i)) -> dx (n, i) = grad · w`.
struct GradInput;

impl candle_core::CustomOp2 for GradInput {
    fn name(&self) -> &'static str {
        "alexnet-lab-linear-grad-input"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, o) = l1.shape().dims2()?;
        let (_, i) = l2.shape().dims2()?;
        check_dims("linear grad-input weight", l2, &[o, i])?;
        let out = float_pair!(self.name(), s1, l1, s2, l2, |grad, w| {
            let mut dx = vec![Default::default(); n * i];
            matmul_into((n, i, o), &mut dx, false, grad, (1, o), w, (1, i))?;
            dx
        });
        Ok((out, Shape::from((n, i))))
    }
}

/// `(grad (n, o), x (n, i)) -> dW (o, i) = gradᵀ · x`.
struct GradWeight;

impl candle_core::CustomOp2 for GradWeight {
    fn name(&self) -> &'static str {
        "alexnet-lab-linear-grad-weight"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, o) = l1.shape().dims2()?;
        let (_, i) = l2.shape().dims2()?;
        check_dims("linear grad-weight input", l2, &[n, i])?;
        let out = float_pair!(self.name(), s1, l1, s2, l2, |grad, x| {
            let mut dw = vec![Default::default(); o * i];
            matmul_into((o, i, n), &mut dw, false, grad, (o, 1), x, (1, i))?;
            dw
        });
        Ok((out, Shape::from((o, i))))
    }
}

/// `x (n, i) · weight (o, i)ᵀ + bias (o,)`, then ReLU when `relu`: one op on the CPU, candle's
/// `matmul` + `broadcast_add` (+ `relu`) elsewhere and with [`Kernels::Candle`] (stock).
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, relu: bool, kernels: Kernels) -> Result<Tensor> {
    if !kernels.lab_on_cpu(x) {
        let y = x.matmul(&weight.t()?)?;
        let y = match bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        return if relu { y.relu() } else { Ok(y) };
    }
    let bias = bias_or_zeros(bias, weight)?;
    x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, LinearOp { relu, sink: GradSink::current() })
}
