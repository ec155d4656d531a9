//! The GEMM convolution against candle's stock conv2d (forward and both gradients) and
//! against finite differences.

use alexnet_lab::candle::{DType, Device, Tensor, Var};
use alexnet_lab::kernels::conv::{conv2d, conv2d_relu};
use alexnet_lab::kernels::Kernels;

mod common;
use common::{assert_same_grads, det, max_rel};

/// AlexNet's five convolutions (small spatial sizes) and LeNet's, with and without padding,
/// padding wider than the kernel (windows entirely in the padding), and batches the op splits
/// into GEMM groups of 3 + 1 and 2 + 2 + 1 images (196 and 400 output positions per image).
const CASES: [(usize, usize, usize, usize, usize, usize, usize); 9] = [
    // (n, c, h, o, k, stride, pad)
    (2, 1, 35, 8, 11, 4, 1),
    (2, 6, 9, 10, 5, 1, 2),
    (3, 5, 7, 4, 3, 1, 1),
    (1, 3, 12, 6, 5, 1, 0),
    (2, 2, 10, 3, 3, 2, 0),
    (1, 4, 6, 5, 1, 1, 0),
    (2, 2, 5, 3, 3, 2, 4),
    (4, 2, 14, 3, 1, 1, 0),
    (5, 3, 20, 4, 3, 1, 1),
];

#[test]
fn forward_and_gradients_match_candle() {
    for case in CASES {
        same_as_candle(case);
    }
}

/// Batches of at least 4 images per thread, which the op shares out (one range of images per
/// thread, each with its own GEMMs), in pools of 2 and 3 threads: ranges of 6 + 7 and 4 + 4 + 5
/// images (one GEMM group each at 16 positions per image), 4 + 5 in groups of 4 (144
/// positions), 4 + 4 with conv1's stride (49 positions, groups of 11).
#[test]
fn batches_shared_out_between_threads_match_candle() {
    const SHARED: [(usize, usize, usize, usize, usize, usize, usize); 3] =
        [(13, 2, 8, 5, 5, 2, 2), (9, 3, 12, 4, 3, 1, 1), (8, 1, 35, 8, 11, 4, 1)];
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| SHARED.into_iter().for_each(same_as_candle));
    }
}

/// The op's forward and its gradients of x, w and b against candle's conv2d + broadcast add.
fn same_as_candle((n, c, h, o, k, s, p): (usize, usize, usize, usize, usize, usize, usize)) {
    {
        let x = Var::from_tensor(&det(&[n, c, h, h], 1, DType::F32)).unwrap();
        let w = Var::from_tensor(&det(&[o, c, k, k], 2, DType::F32)).unwrap();
        let b = Var::from_tensor(&det(&[o], 3, DType::F32)).unwrap();
        let ours = conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), s, p, Kernels::Lab).unwrap();
        let stock = x.conv2d(w.as_tensor(), p, s, 1, 1).unwrap().broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap();
        assert_eq!(ours.dims(), stock.dims());
        assert!(max_rel(&ours, &stock) < 1e-5, "forward {:?}", (n, c, h, o, k, s, p));
        let case = format!("{:?}", (n, c, h, o, k, s, p));
        let none = assert_same_grads(&ours, &stock, &[("x", &x), ("w", &w), ("b", &b)], &case);
        assert!(none.is_empty(), "{case}: no gradient for {none:?}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let (n, c, h, o, k, s, p) = (2, 2, 7, 3, 3, 2, 1);
    let x0 = det(&[n, c, h, h], 5, DType::F64);
    let w0 = det(&[o, c, k, k], 6, DType::F64);
    let r = det(&[n, o, 4, 4], 7, DType::F64);
    let x = Var::from_tensor(&x0).unwrap();
    let w = Var::from_tensor(&w0).unwrap();
    let g = conv2d(x.as_tensor(), w.as_tensor(), None, s, p, Kernels::Lab).unwrap().mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let f = |xv: &Tensor, wv: &Tensor| -> f64 {
        conv2d(xv, wv, None, s, p, Kernels::Lab).unwrap().mul(&r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let eps = 1e-6;
    for (which, base, grad) in [(0, &x0, g.get(x.as_tensor()).unwrap()), (1, &w0, g.get(w.as_tensor()).unwrap())] {
        let v: Vec<f64> = base.flatten_all().unwrap().to_vec1().unwrap();
        let gv: Vec<f64> = grad.flatten_all().unwrap().to_vec1().unwrap();
        for i in 0..v.len() {
            let bump = |d: f64| {
                let mut u = v.clone();
                u[i] += d;
                Tensor::from_vec(u, base.dims(), &Device::Cpu).unwrap()
            };
            let num = if which == 0 {
                (f(&bump(eps), &w0) - f(&bump(-eps), &w0)) / (2.0 * eps)
            } else {
                (f(&x0, &bump(eps)) - f(&x0, &bump(-eps))) / (2.0 * eps)
            };
            assert!((num - gv[i]).abs() <= 1e-6 * num.abs().max(1.0), "{which}/{i}: {num} vs {}", gv[i]);
        }
    }
}

#[test]
fn the_image_gets_no_gradient() {
    let x = det(&[2, 1, 20, 20], 1, DType::F32); // a plain tensor, like an image batch
    let w = Var::from_tensor(&det(&[4, 1, 5, 5], 2, DType::F32)).unwrap();
    let g = conv2d(&x, w.as_tensor(), None, 1, 2, Kernels::Lab).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.get(w.as_tensor()).is_some());
}

/// The fused convolution + bias + ReLU (one op, as the models run it) against candle's stock
/// conv2d, broadcast add and relu: forward and the gradients of input, weight and bias, with
/// and without a bias. Half the outputs are negative, so the ReLU mask matters.
#[test]
fn fused_relu_matches_candle() {
    use alexnet_lab::kernels::conv::conv2d_relu;
    for (n, c, h, o, k, s, p) in CASES {
        for with_bias in [true, false] {
            let x = Var::from_tensor(&det(&[n, c, h, h], 1, DType::F32)).unwrap();
            let w = Var::from_tensor(&det(&[o, c, k, k], 2, DType::F32)).unwrap();
            let b = Var::from_tensor(&det(&[o], 3, DType::F32)).unwrap();
            let bias = with_bias.then(|| b.as_tensor());
            let ours = conv2d_relu(x.as_tensor(), w.as_tensor(), bias, s, p, Kernels::Lab).unwrap();
            let mut stock = x.conv2d(w.as_tensor(), p, s, 1, 1).unwrap();
            if with_bias {
                stock = stock.broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap();
            }
            let stock = stock.relu().unwrap();
            let case = (n, c, h, o, k, s, p, with_bias);
            assert!(max_rel(&ours, &stock) < 1e-5, "forward {case:?}");
            let zeros: f32 = stock.eq(0f32).unwrap().to_dtype(DType::F32).unwrap().mean_all().unwrap().to_scalar().unwrap();
            assert!(zeros > 0.2 && zeros < 0.8, "{case:?}: {zeros} of the outputs are 0");
            let none = assert_same_grads(&ours, &stock, &[("x", &x), ("w", &w), ("b", &b)], &format!("{case:?}"));
            assert_eq!(none, if with_bias { vec![] } else { vec!["b".to_string()] }, "{case:?}");
        }
    }
}

#[test]
fn degenerate_shapes_are_errors_not_panics() {
    let dev = Device::Cpu;
    let z = |d: &[usize]| Tensor::zeros(d, DType::F32, &dev).unwrap();
    let cases: [(&[usize], &[usize], usize, &str); 3] = [
        (&[1, 1, 0, 0], &[2, 1, 1, 1], 1, "it needs at least one pixel"),
        (&[1, 0, 4, 4], &[2, 0, 3, 3], 0, "input channels (0) must be >= 1"),
        (&[1, 1, 4, 4], &[0, 1, 3, 3], 0, "0 output channels"),
    ];
    for (x, w, pad, expected) in cases {
        let e = conv2d(&z(x), &z(w), None, 1, pad, Kernels::Lab).unwrap_err().to_string();
        assert!(e.contains(expected), "{x:?} * {w:?}: {e}");
    }
}

/// The bias gradient, the fused ReLU's gradient and a non-square image, against finite
/// differences (f64): `sum(r * relu(conv(x, w) + b))` by x, w and b.
#[test]
fn bias_fused_relu_and_non_square_input_match_finite_differences() {
    let (n, c, h, wd, o, k, s, p) = (2, 2, 6, 9, 3, 3, 2, 1);
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1);
    let x0 = det(&[n, c, h, wd], 11, DType::F64);
    let w0 = det(&[o, c, k, k], 12, DType::F64);
    let b0 = det(&[o], 13, DType::F64);
    let r = det(&[n, o, oh, ow], 14, DType::F64);
    // Finite differences are only valid away from ReLU's kink: no pre-activation near 0, and
    // some on each side of it (so the ReLU does cut).
    let pre: Vec<f64> = conv2d(&x0, &w0, Some(&b0), s, p, Kernels::Lab).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(pre.len(), n * o * oh * ow);
    assert!(pre.iter().all(|z| z.abs() > 1e-4) && pre.iter().any(|z| *z < 0.0) && pre.iter().any(|z| *z > 0.0));
    let (x, w, b) = (Var::from_tensor(&x0).unwrap(), Var::from_tensor(&w0).unwrap(), Var::from_tensor(&b0).unwrap());
    let y = conv2d_relu(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), s, p, Kernels::Lab).unwrap();
    assert_eq!(y.dims(), [n, o, oh, ow]);
    let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let f = |xv: &Tensor, wv: &Tensor, bv: &Tensor| -> f64 {
        conv2d_relu(xv, wv, Some(bv), s, p, Kernels::Lab).unwrap().mul(&r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let eps = 1e-6;
    for (which, base) in [(0, &x0), (1, &w0), (2, &b0)] {
        let grad = g.get([x.as_tensor(), w.as_tensor(), b.as_tensor()][which]).unwrap();
        let v: Vec<f64> = base.flatten_all().unwrap().to_vec1().unwrap();
        let gv: Vec<f64> = grad.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(gv.len(), v.len());
        for i in 0..v.len() {
            let bump = |d: f64| {
                let mut u = v.clone();
                u[i] += d;
                Tensor::from_vec(u, base.dims(), &Device::Cpu).unwrap()
            };
            let at = |d: f64| match which {
                0 => f(&bump(d), &w0, &b0),
                1 => f(&x0, &bump(d), &b0),
                _ => f(&x0, &w0, &bump(d)),
            };
            let num = (at(eps) - at(-eps)) / (2.0 * eps);
            assert!((num - gv[i]).abs() <= 1e-6 * num.abs().max(1.0), "{which}/{i}: {num} vs {}", gv[i]);
        }
    }
}
