//! The lab's linear op (with and without the fused ReLU) against candle_nn's stock `Linear`
//! (+ `relu`) and against finite differences.

use alexnet_lab::candle::{DType, Device, Module, Tensor, Var};
use alexnet_lab::candle_nn;
use alexnet_lab::kernels::linear::linear;
use alexnet_lab::kernels::Kernels;

mod common;
use common::{assert_same_grads, det, max_rel};

#[test]
fn matches_candle_linear_forward_and_gradients() {
    for (n, i, o) in [(5, 7, 3), (1, 16, 10), (8, 33, 17)] {
        for (relu, with_bias) in [(false, true), (true, true), (true, false)] {
            let x = Var::from_tensor(&det(&[n, i], 1, DType::F32)).unwrap();
            let w = Var::from_tensor(&det(&[o, i], 2, DType::F32)).unwrap();
            let b = Var::from_tensor(&det(&[o], 3, DType::F32)).unwrap();
            let ours = linear(x.as_tensor(), w.as_tensor(), with_bias.then(|| b.as_tensor()), relu, Kernels::Lab).unwrap();
            let stock = candle_nn::Linear::new(w.as_tensor().clone(), with_bias.then(|| b.as_tensor().clone()));
            let mut stock = stock.forward(x.as_tensor()).unwrap();
            if relu {
                stock = stock.relu().unwrap();
            }
            let case = (n, i, o, relu, with_bias);
            assert_eq!(ours.dims(), stock.dims());
            assert!(max_rel(&ours, &stock) < 1e-5, "forward {case:?}");
            let none = assert_same_grads(&ours, &stock, &[("x", &x), ("w", &w), ("b", &b)], &format!("{case:?}"));
            assert_eq!(none, if with_bias { vec![] } else { vec!["b".to_string()] }, "{case:?}");
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let (n, i, o) = (3, 5, 4);
    let (x0, w0, b0) = (det(&[n, i], 5, DType::F64), det(&[o, i], 6, DType::F64), det(&[o], 7, DType::F64));
    let r = det(&[n, o], 8, DType::F64);
    let f = |x: &Tensor, w: &Tensor, b: &Tensor| -> f64 {
        linear(x, w, Some(b), true, Kernels::Lab).unwrap().mul(&r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let (x, w, b) = (Var::from_tensor(&x0).unwrap(), Var::from_tensor(&w0).unwrap(), Var::from_tensor(&b0).unwrap());
    let g = linear(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), true, Kernels::Lab)
        .unwrap()
        .mul(&r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let eps = 1e-6;
    for which in 0..3 {
        let (base, var) = [(&x0, &x), (&w0, &w), (&b0, &b)][which];
        let v: Vec<f64> = base.flatten_all().unwrap().to_vec1().unwrap();
        let gv: Vec<f64> = g.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        for k in 0..v.len() {
            let bump = |d: f64| {
                let mut u = v.clone();
                u[k] += d;
                Tensor::from_vec(u, base.dims(), &Device::Cpu).unwrap()
            };
            let at = |t: Tensor| match which {
                0 => f(&t, &w0, &b0),
                1 => f(&x0, &t, &b0),
                _ => f(&x0, &w0, &t),
            };
            let num = (at(bump(eps)) - at(bump(-eps))) / (2.0 * eps);
            assert!((num - gv[k]).abs() <= 1e-6 * num.abs().max(1.0), "{which}/{k}: {num} vs {}", gv[k]);
        }
    }
}

#[test]
fn wrong_shapes_are_errors() {
    let x = det(&[2, 5], 1, DType::F32);
    let e = linear(&x, &det(&[3, 4], 2, DType::F32), None, false, Kernels::Lab).unwrap_err().to_string();
    assert!(e.contains("input has 5 features, the weight expects 4"), "{e}");
    let e = linear(&x, &det(&[3, 5], 2, DType::F32), Some(&det(&[4], 3, DType::F32)), false, Kernels::Lab).unwrap_err().to_string();
    assert!(e.contains("linear bias") && e.contains("[4]") && e.contains("[3]"), "{e}");
}
