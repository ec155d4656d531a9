//! The parameters' gradients handed straight to the store (`kernels::sink`, used by
//! `train::loss_and_gradients`): the same store with the same values as candle's own
//! `loss.backward()`, for every parameter of the lab's models, with Winograd or without, for a
//! weight used twice and beside a contribution of candle's own.

use alexnet_lab::candle::{DType, Device, Tensor, Var};
use alexnet_lab::kernels::conv::conv2d_relu;
use alexnet_lab::kernels::{GradSink, Kernels};
use alexnet_lab::nn::ModelKind;
use alexnet_lab::train::loss_and_gradients;

mod common;
use common::det;

/// The largest absolute difference of two tensors.
fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn the_sink_gives_every_gradient_candle_gives() {
    for (kind, size, kernels) in [
        (ModelKind::AlexNet, 80, Kernels::Lab),
        (ModelKind::AlexNet, 80, Kernels::Winograd),
        (ModelKind::LeNet, 28, Kernels::Lab),
    ] {
        let (net, varmap) = kind.init(Some([1, size, size]), 7, &Device::Cpu).unwrap();
        let net = net.with_kernels(kernels);
        net.set_dropout_seed(11);
        let x = det(&[2, 1, size, size], 1, DType::F32);
        let y = Tensor::new(&[3u32, 8], &Device::Cpu).unwrap();
        let logits = net.forward(&x, true).unwrap();
        let loss = alexnet_lab::candle_nn::loss::cross_entropy(&logits, &y).unwrap();
        let candle = loss.backward().unwrap();
        net.set_dropout_seed(11); // the same masks again
        let (logits2, loss2, ours) = loss_and_gradients(&net, &x, &y).unwrap();
        assert_eq!(max_abs(&logits, &logits2), 0.0, "{kind:?} {kernels:?}: the forward differs");
        assert_eq!(max_abs(&loss, &loss2), 0.0);
        let vars = varmap.all_vars();
        assert!(vars.len() >= 10, "{kind:?}: {} parameters", vars.len());
        for v in vars {
            let (a, b) = (candle.get(v.as_tensor()), ours.get(v.as_tensor()));
            let (Some(a), Some(b)) = (a, b) else { panic!("{kind:?} {kernels:?}: a gradient of {:?} is missing: {a:?} {b:?}", v.dims()) };
            assert_eq!(max_abs(a, b), 0.0, "{kind:?} {kernels:?}: the gradient of {:?} differs", v.dims());
        }
    }
}

/// A weight used by two convolutions gets both contributions, and a term of the loss that
/// candle differentiates itself (a weight penalty) is added to the sink's.
#[test]
fn two_uses_and_candles_own_contribution_add_up() {
    let w = Var::from_tensor(&(det(&[16, 16, 3, 3], 2, DType::F32) * 0.1).unwrap()).unwrap();
    let b = Var::from_tensor(&(det(&[16], 3, DType::F32) * 0.1).unwrap()).unwrap();
    let x = det(&[2, 16, 6, 6], 1, DType::F32);
    let loss = || {
        let h = conv2d_relu(&x, w.as_tensor(), Some(b.as_tensor()), 1, 1, Kernels::Lab).unwrap();
        let h = conv2d_relu(&h, w.as_tensor(), Some(b.as_tensor()), 1, 1, Kernels::Lab).unwrap();
        (h.sum_all().unwrap() + w.as_tensor().sqr().unwrap().sum_all().unwrap()).unwrap()
    };
    let candle = loss().backward().unwrap();
    let sink = GradSink::new();
    let l = sink.scope(loss);
    let mut ours = l.backward().unwrap();
    assert_eq!(sink.len(), 2, "the sink should hold the weight's and the bias's gradients: {sink:?}");
    sink.drain_into(&mut ours).unwrap();
    assert!(sink.is_empty());
    for v in [&w, &b] {
        let (a, g) = (candle.get(v.as_tensor()).unwrap(), ours.get(v.as_tensor()).unwrap());
        // one addition in another order: equal up to rounding
        assert!(max_abs(a, g) < 1e-4 * (1.0 + a.abs().unwrap().max_keepdim(0).unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap() as f64), "{:?}", v.dims());
    }
}

/// Outside a scope the ops return their gradients to candle: nothing is routed.
#[test]
fn without_a_scope_nothing_is_routed() {
    let sink = GradSink::new();
    let w = Var::from_tensor(&det(&[16, 16, 3, 3], 2, DType::F32)).unwrap();
    let x = det(&[2, 16, 6, 6], 1, DType::F32);
    let g = conv2d_relu(&x, w.as_tensor(), None, 1, 1, Kernels::Lab).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(g.get(w.as_tensor()).is_some() && sink.is_empty());
}
