//! The overlapping max-pool: forward against candle's stock op, backward against finite
//! differences and against candle's own backward where candle has one (kernel == stride).

use alexnet_lab::candle::{DType, Device, Tensor, Var};
use alexnet_lab::kernels::pool::max_pool2d;

mod common;

fn randn(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    common::det(shape, seed, dtype)
}

#[test]
fn forward_matches_candle_stock_op() {
    for (shape, k, s) in [
        (vec![2, 3, 54, 54], 3, 2),
        (vec![1, 4, 13, 13], 3, 2),
        (vec![3, 2, 12, 9], 3, 2),
        (vec![2, 2, 8, 8], 2, 2),
        (vec![1, 1, 7, 11], 3, 1),
    ] {
        let x = randn(&shape, 7, DType::F32);
        let ours = max_pool2d(&x, k, s).unwrap();
        let stock = x.max_pool2d_with_stride(k, s).unwrap();
        assert_eq!(ours.dims(), stock.dims(), "{shape:?} k{k} s{s}");
        let diff = (ours - stock).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(diff, 0.0, "{shape:?} k{k} s{s}");
    }
}

#[test]
fn forward_handles_non_contiguous_input() {
    let x = randn(&[2, 3, 9, 11], 3, DType::F32);
    let xt = x.transpose(2, 3).unwrap(); // (2, 3, 11, 9), strided
    let ours = max_pool2d(&xt, 3, 2).unwrap();
    let stock = xt.contiguous().unwrap().max_pool2d_with_stride(3, 2).unwrap();
    let diff = (ours - stock).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(diff, 0.0);
}

/// d(sum(pool(x) * r))/dx by central differences, compared with the op's backward.
#[test]
fn backward_matches_finite_differences() {
    let shape = [2, 2, 9, 9];
    let x0 = randn(&shape, 11, DType::F64);
    let r = randn(&[2, 2, 4, 4], 12, DType::F64);
    let x = Var::from_tensor(&x0).unwrap();
    let loss = max_pool2d(x.as_tensor(), 3, 2).unwrap().mul(&r).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let g: Vec<f64> = grads.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();

    let base: Vec<f64> = x0.flatten_all().unwrap().to_vec1().unwrap();
    let f = |v: &[f64]| -> f64 {
        let t = Tensor::from_slice(v, &shape, &Device::Cpu).unwrap();
        max_pool2d(&t, 3, 2).unwrap().mul(&r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    let mut nonzero = 0;
    for i in 0..base.len() {
        let mut p = base.clone();
        p[i] += eps;
        let mut m = base.clone();
        m[i] -= eps;
        let num = (f(&p) - f(&m)) / (2.0 * eps);
        worst = worst.max((num - g[i]).abs() / num.abs().max(1.0));
        if g[i] != 0.0 {
            nonzero += 1;
        }
    }
    assert!(worst < 1e-6, "relative error {worst}");
    // Overlapping windows: some inputs feed two windows, many feed none.
    assert!(nonzero > 0 && nonzero < base.len(), "{nonzero} of {}", base.len());
}

/// Where candle has a backward (kernel == stride) it agrees with ours up to a factor: candle
/// 0.11.1 multiplies the gradient by `avg_pool(mask)` (= 1/k² for a unique maximum) where it
/// should divide by the number of maxima, so its max-pool gradients are k² = 4 times too small.
/// Ours is the one that matches finite differences (test above).
#[test]
fn backward_matches_candle_where_candle_has_one_up_to_its_scaling_bug() {
    let x0 = randn(&[2, 3, 8, 8], 5, DType::F32);
    let r = randn(&[2, 3, 4, 4], 6, DType::F32);
    let grad = |stock: bool| -> Vec<f32> {
        let x = Var::from_tensor(&x0).unwrap();
        let y = if stock { x.max_pool2d_with_stride(2, 2).unwrap() } else { max_pool2d(x.as_tensor(), 2, 2).unwrap() };
        let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
        g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    };
    let (ours, stock) = (grad(false), grad(true));
    assert!(ours.iter().any(|g| *g != 0.0));
    for (a, b) in ours.iter().zip(&stock) {
        assert!((a - 4.0 * b).abs() <= 1e-6 * a.abs().max(1.0), "ours {a}, candle {b}");
    }
}

#[test]
fn candle_stock_op_still_refuses_overlapping_backward() {
    // The reason this module exists; if candle fixes it, the lab can drop its own op.
    let x = Var::from_tensor(&randn(&[1, 1, 7, 7], 1, DType::F32)).unwrap();
    let y = x.max_pool2d_with_stride(3, 2).unwrap().sum_all().unwrap();
    assert!(y.backward().is_err());
}

#[test]
fn too_small_input_is_an_error_not_a_panic() {
    let x = randn(&[1, 1, 2, 2], 1, DType::F32);
    let e = max_pool2d(&x, 3, 2).unwrap_err().to_string();
    assert!(e.contains("smaller than the 3x3 window"), "{e}");
}

/// The device-generic version (used on CUDA) agrees with the CPU op, forward and backward.
#[test]
fn generic_version_matches_the_cpu_op() {
    use alexnet_lab::kernels::pool::max_pool2d_generic;
    for shape in [[2, 3, 54, 54], [1, 2, 13, 13], [2, 2, 12, 9], [1, 1, 3, 3]] {
        let x0 = randn(&shape, 9, DType::F32);
        let a = max_pool2d(&x0, 3, 2).unwrap();
        let b = max_pool2d_generic(&x0, 3, 2).unwrap();
        assert_eq!(a.dims(), b.dims(), "{shape:?}");
        let r = randn(a.dims(), 10, DType::F32);
        let grad = |generic: bool| -> (Vec<f32>, Vec<f32>) {
            let x = Var::from_tensor(&x0).unwrap();
            let y = if generic { max_pool2d_generic(x.as_tensor(), 3, 2) } else { max_pool2d(x.as_tensor(), 3, 2) }.unwrap();
            let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
            (y.flatten_all().unwrap().to_vec1().unwrap(), g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap())
        };
        let ((ya, ga), (yb, gb)) = (grad(false), grad(true));
        assert!(ya == yb, "{shape:?}: forward differs");
        // Overlapping windows add their gradients in another order: equal up to rounding.
        let worst = ga.iter().zip(&gb).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "{shape:?}: gradients differ by {worst}");
    }
}

/// Tied maxima: as PyTorch defines it, each window sends its gradient to the first maximum in
/// row-major order (`val > maxval`), and overlapping windows that pick the same element add up.
#[test]
fn tied_maxima_send_the_gradient_to_the_first_one_in_each_window() {
    use alexnet_lab::candle::Var;
    // All equal: every 3x3 window (stride 2) of a 5x5 plane picks its top-left element.
    let x = Var::from_tensor(&Tensor::ones((1, 1, 5, 5), DType::F32, &Device::Cpu).unwrap()).unwrap();
    let y = alexnet_lab::kernels::pool::max_pool2d(x.as_tensor(), 3, 2).unwrap();
    assert_eq!(y.dims(), [1, 1, 2, 2]);
    let g = y.sum_all().unwrap().backward().unwrap();
    let gx: Vec<f32> = g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut want = vec![0f32; 25];
    for (r, c) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
        want[r * 5 + c] = 1.0;
    }
    assert_eq!(gx, want);
    // Two maxima of 9 in the first window, at (0, 1) and (1, 0): the first in row-major order
    // wins; (1, 2) is also the second window's first 9 (shared with the first window's row).
    #[rustfmt::skip]
    let v = [0., 9., 0., 0., 0.,
             9., 0., 9., 0., 0.,
             0., 0., 0., 0., 0.,
             0., 0., 0., 0., 0.,
             0., 0., 0., 0., 0f32];
    let x = Var::from_tensor(&Tensor::from_vec(v.to_vec(), (1, 1, 5, 5), &Device::Cpu).unwrap()).unwrap();
    let y = alexnet_lab::kernels::pool::max_pool2d(x.as_tensor(), 3, 2).unwrap();
    let up = Tensor::from_vec(vec![1f32, 10., 100., 1000.], (1, 1, 2, 2), &Device::Cpu).unwrap();
    let g = y.mul(&up).unwrap().sum_all().unwrap().backward().unwrap();
    let gx: Vec<f32> = g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let mut want = vec![0f32; 25];
    want[1] = 1.0; // window (0,0): first 9 at (0,1)
    want[7] += 10.0; // window (0,2): the 9 at (1,2)
    want[10] += 100.0; // window (2,0): all zeros, the first is (2,0)
    want[12] += 1000.0; // window (2,2): all zeros, the first is (2,2)
    assert_eq!(gx, want);
}

/// The backward uses the arg-max kept by the forward pass; a second backward through the same
/// graph (the kept arg-max is used up) scans the windows again: both give the same gradient,
/// on AlexNet's pool1 shape with random values.
#[test]
fn kept_argmax_and_rescan_give_the_same_gradient() {
    use alexnet_lab::candle::Var;
    let x = Var::from_tensor(&common::det(&[2, 3, 27, 27], 9, DType::F32)).unwrap();
    let y = alexnet_lab::kernels::pool::max_pool2d(x.as_tensor(), 3, 2).unwrap();
    let up = common::det(&[2, 3, 13, 13], 10, DType::F32);
    let loss = y.mul(&up).unwrap().sum_all().unwrap();
    let first: Vec<f32> = loss.backward().unwrap().get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let again: Vec<f32> = loss.backward().unwrap().get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(first, again);
    assert!(first.iter().filter(|g| **g != 0.0).count() > 100);
}
