//! The lab's stride-1 convolutions with Winograd's transforms (`kernels::winograd`, which
//! `conv2d` uses for layers with at least 16 input and output channels, AlexNet's conv2-5)
//! against candle's conv2d: forward and the gradients of input, weight and bias, in f64 (where
//! the algorithm is exact up to rounding) and f32 (with the error bound it is held to), and the
//! choice that turns it off (`Kernels::Direct`).

use alexnet_lab::candle::{DType, Var};
use alexnet_lab::kernels::conv::conv2d_relu;
use alexnet_lab::kernels::winograd::{forward, grad_input, grad_weight, Conv, Transform, MAX_TILE};
use alexnet_lab::kernels::Kernels;

mod common;
use common::{det, max_rel};

/// `(n, c, h, w, o, k, pad)`, stride 1.
type Case = (usize, usize, usize, usize, usize, usize, usize);

const CASES: [Case; 9] = [
    (3, 16, 3, 3, 24, 3, 1),   // conv3-5 at 80x80: one F(3x3, 3x3) tile per image
    (2, 16, 4, 4, 20, 3, 1),   // at 96x96: one F(4x4, 3x3)
    (2, 16, 8, 8, 24, 5, 2),   // conv2 at 80x80: 2x2 tiles of F(4x4, 5x5)
    (2, 17, 10, 10, 18, 5, 2), // conv2 at 96x96: 3x3 tiles, the last ones partly outside
    (2, 16, 13, 13, 16, 3, 1), // conv3-5 at 224x224
    (2, 16, 7, 9, 16, 3, 0),   // no padding, not square
    (1, 16, 6, 6, 16, 5, 0),   // no padding: the input gradient is padded by 4
    (2, 16, 5, 5, 16, 3, 3),   // padding wider than the kernel: the input gradient stays direct
    (20, 16, 3, 3, 16, 3, 1),  // a larger batch
];

/// `relu(conv(x, w) + b)` and its gradients from the lab's op and from candle's ops, as
/// `(forward error, [x, w, b gradient errors])` relative to candle's largest magnitude.
fn errors((n, c, h, w, o, k, p): Case, dtype: DType, kernels: Kernels) -> (f64, [f64; 3]) {
    let x = Var::from_tensor(&det(&[n, c, h, w], 1, dtype)).unwrap();
    let wt = Var::from_tensor(&(det(&[o, c, k, k], 2, dtype) * (1.0 / (c * k * k) as f64).sqrt()).unwrap()).unwrap();
    let b = Var::from_tensor(&(det(&[o], 3, dtype) * 0.1).unwrap()).unwrap();
    let ours = conv2d_relu(x.as_tensor(), wt.as_tensor(), Some(b.as_tensor()), 1, p, kernels).unwrap();
    let stock = x.conv2d(wt.as_tensor(), p, 1, 1, 1).unwrap().broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap().relu().unwrap();
    assert_eq!(ours.dims(), stock.dims());
    let r = det(ours.dims(), 4, dtype);
    let g1 = ours.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = stock.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let grad = |v: &Var| max_rel(g1.get(v.as_tensor()).unwrap(), g2.get(v.as_tensor()).unwrap());
    (max_rel(&ours, &stock), [grad(&x), grad(&wt), grad(&b)])
}

/// Every case's forward and gradient errors (see [`errors`]) below `bound`, with Winograd for
/// every case (`Kernels::Winograd`: at these small sizes the cost model would choose the direct
/// convolution for most of them).
fn assert_all_within(dtype: DType, bound: f64) {
    for case in CASES {
        let (fwd, grads) = errors(case, dtype, Kernels::Winograd);
        assert!(fwd < bound && grads.iter().all(|&e| e < bound), "{case:?}: forward {fwd:e}, gradients (x, w, b) {grads:?}");
    }
}

/// In f64 the transforms are exact but for rounding: any mistake in a matrix, a tile's
/// position or the padding shows as an error far above 1e-10.
#[test]
fn f64_forward_and_gradients_match_candle() {
    assert_all_within(DType::F64, 1e-10);
}

/// In f32 the transforms round more than a direct sum does (F(4x4, 5x5)'s points go up to 2
/// and down to 1/2): on these cases they were off by up to 4e-6 from candle, relative to the
/// largest value (2026-12-03), where the direct convolution stays within 1e-5 (tests/conv.rs);
/// the bound is 2e-5.
#[test]
fn f32_forward_and_gradients_match_candle_within_2e_5() {
    assert_all_within(DType::F32, 2e-5);
}

/// `Kernels::Direct` turns Winograd off: the same layer then computes other roundings (so the
/// Winograd path is not the direct one), while both stay within the bounds above.
#[test]
fn the_direct_switch_changes_the_path_not_the_result() {
    let case = (2, 16, 8, 8, 24, 5, 2);
    let run = |kernels| conv2d_relu(&det(&[2, 16, 8, 8], 1, DType::F32), &det(&[24, 16, 5, 5], 2, DType::F32), None, 1, 2, kernels).unwrap();
    let (wino, direct) = (run(Kernels::Winograd), run(Kernels::Direct));
    let diff = max_rel(&wino, &direct);
    assert!(diff > 0.0, "{case:?}: Winograd and the direct convolution gave identical bits");
    assert!(diff < 2e-5, "{case:?}: off by {diff:e}");
}

/// The lab's default (`Kernels::Lab`) follows the cost model: conv3 of an 80x80 AlexNet on 64
/// images goes through Winograd (other bits than direct), on one image directly (the same bits).
#[test]
fn the_default_follows_the_cost_model() {
    assert_eq!(Conv::new(64, 256, 3, 3, 384, 3, 1).forward_tile(false), Some(3));
    assert_eq!(Conv::new(1, 256, 3, 3, 384, 3, 1).forward_tile(false), None);
    let (w, b) = (det(&[384, 256, 3, 3], 2, DType::F32), det(&[384], 3, DType::F32));
    for (n, winograd) in [(64, true), (1, false)] {
        let x = det(&[n, 256, 3, 3], 1, DType::F32);
        let run = |kernels| conv2d_relu(&x, &w, Some(&b), 1, 1, kernels).unwrap();
        let diff = max_rel(&run(Kernels::Lab), &run(Kernels::Direct));
        assert_eq!(diff > 0.0, winograd, "batch {n}: the default differs from direct by {diff:e}");
    }
}

// The algorithm itself, on slices (`kernels::winograd`), against the definition.


/// F(m, r) computes the correlation exactly on small integers, for every tile size used.
#[test]
fn every_transform_computes_the_correlation() {
    for t in 2..=MAX_TILE {
        for r in 1..t {
            let m = t + 1 - r;
            let tr = Transform::new(m, r).unwrap();
            let d: Vec<f64> = (0..t).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
            let g: Vec<f64> = (0..r).map(|i| ((i * 5 + 1) % 7) as f64 - 3.0).collect();
            let gg: Vec<f64> = (0..t).map(|x| (0..r).map(|a| tr.g[x * r + a] * g[a]).sum()).collect();
            let dd: Vec<f64> = (0..t).map(|x| (0..t).map(|a| tr.bt[x * t + a] * d[a]).sum()).collect();
            for i in 0..m {
                let y: f64 = (0..t).map(|x| tr.at[i * t + x] * gg[x] * dd[x]).sum();
                let direct: f64 = (0..r).map(|k| d[i + k] * g[k]).sum();
                assert!((y - direct).abs() < 1e-9, "F({m}, {r}) output {i}: {y} vs {direct}");
            }
        }
    }
    assert!(Transform::new(7, 3).is_none(), "t = 9 is beyond MAX_TILE");
}

/// The tiles AlexNet's stride-1 layers get at the lab's image sizes and batches, for training
/// (`forward_tile(true)`) and for a forward alone.
#[test]
fn tiles_for_alexnet() {
    let conv = |n, c, h, o, k, pad| Conv::new(n, c, h, h, o, k, pad);
    // 80x80, batch 64: conv2 on 8x8 (2x2 tiles of F(4x4, 5x5)), conv3-5 on 3x3 (one of F(3x3, 3x3))
    assert_eq!(conv(64, 96, 8, 256, 5, 2).forward_tile(true), Some(4));
    assert_eq!(conv(64, 96, 8, 256, 5, 2).grad_weight_block(), Some(4));
    assert_eq!(conv(64, 256, 3, 384, 3, 1).forward_tile(true), Some(3));
    assert_eq!(conv(64, 256, 3, 384, 3, 1).grad_weight_block(), Some(3));
    // 96x96, batch 64: conv2 on 10x10 (3x3 tiles), conv3-5 on 4x4 (one tile of F(4x4, 3x3))
    assert_eq!(conv(64, 96, 10, 256, 5, 2).forward_tile(true), Some(4));
    assert_eq!(conv(64, 256, 4, 384, 3, 1).forward_tile(true), Some(4));
    // 96x96, batch 16: the 36 transformed weights per channel pair of F(4x4, 3x3) cost more
    // than the multiplications they save on 16 images; F(2x2, 3x3) stores 16
    assert_eq!(conv(16, 384, 4, 384, 3, 1).forward_tile(true), Some(2));
    assert_eq!(conv(16, 96, 10, 256, 5, 2).forward_tile(true), Some(4));
    // evaluation at 96x96, batch 256: one tile of F(4x4, 3x3)
    assert_eq!(conv(256, 384, 4, 384, 3, 1).forward_tile(false), Some(4));
    // conv3 at 80x80 breaks even at about 25 images: the 25 transformed weights per channel
    // pair of F(3x3, 3x3) cost as much as 24 images' worth of saved multiplications
    assert_eq!(conv(1, 256, 3, 384, 3, 1).forward_tile(true), None);
    assert_eq!(conv(16, 256, 3, 384, 3, 1).forward_tile(true), None);
    assert_eq!(conv(32, 256, 3, 384, 3, 1).forward_tile(true), Some(3));
    // a 1x1 output, a 1x1 kernel, few channels (LeNet): nothing to gain
    assert_eq!(conv(64, 64, 1, 64, 3, 1).forward_tile(true), None);
    assert_eq!(conv(64, 64, 8, 64, 1, 0).forward_tile(true), None);
    assert_eq!(conv(64, 1, 28, 6, 5, 2).forward_tile(true), None);
    assert_eq!(conv(64, 64, 7, 64, 5, 2).forward_tile(true), Some(4));
    // kernels too large for any tile of at most MAX_TILE (an 11x11 at stride 1): direct
    assert_eq!(conv(64, 64, 20, 64, 11, 5).forward_tile(true), None);
    assert_eq!(conv(64, 64, 20, 64, 8, 0).grad_weight_block(), None);
}

/// The cost model behind the choice: direct counts every multiplication, Winograd fewer
/// multiplications plus its weight-sized passes, which do not grow with the batch.
#[test]
fn the_cost_model_weighs_the_weight_sized_passes_against_the_batch() {
    let cv = |n| Conv::new(n, 384, 4, 4, 384, 3, 1);
    let ratio = |n: usize, m| cv(n).modelled_cost(Some(m), true) / cv(n).modelled_cost(None, true);
    // F(4x4, 3x3) on one 4x4 tile: 36 multiplications against 9 x 16 = 144 direct, so its share
    // falls toward 36 / 144 / 1.36 as the batch grows and the weight-sized passes matter less
    assert!(ratio(16, 4) > ratio(64, 4) && ratio(64, 4) > ratio(1024, 4), "{} {} {}", ratio(16, 4), ratio(64, 4), ratio(1024, 4));
    assert!((ratio(1 << 20, 4) - 36.0 / 144.0 / 1.36).abs() < 1e-3, "{}", ratio(1 << 20, 4));
    // a forward alone does a third of the GEMMs and 2 of the 5 weight-sized passes
    let (f, t) = (cv(64).modelled_cost(None, false), cv(64).modelled_cost(None, true));
    assert!((t / f - 3.0).abs() < 1e-12);
}

/// `(n, c, h, w) * (o, c, k, k)`, stride 1, by the definition.
fn naive(x: &[f64], w: &[f64], cv: &Conv) -> Vec<f64> {
    let (Conv { n, c, h, w: wd, o, k, pad, .. }, (oh, ow)) = (*cv, cv.out());
    let mut y = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for co in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for ci in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = ((oy + ky).wrapping_sub(pad), (ox + kx).wrapping_sub(pad));
                                if iy < h && ix < wd {
                                    s += x[((b * c + ci) * h + iy) * wd + ix] * w[((co * c + ci) * k + ky) * k + kx];
                                }
                            }
                        }
                    }
                    y[((b * o + co) * oh + oy) * ow + ox] = s;
                }
            }
        }
    }
    y
}

fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(err < 1e-10, "{what}: off by {err}");
}

/// Forward, input gradient and weight gradient in f64 against the definition (the input
/// gradient as `Σ dy · ∂y/∂x` through the adjoint, the weight gradient likewise), with the
/// batch in one group and in groups of one image (the weight gradient then sums groups).
#[test]
fn forward_and_gradients_match_the_definition() {
    for (n, c, h, o, k, pad) in [(3, 4, 3, 5, 3, 1), (2, 3, 4, 2, 3, 1), (2, 2, 8, 3, 5, 2), (2, 3, 7, 2, 3, 0), (1, 2, 6, 2, 5, 0), (2, 2, 13, 3, 3, 1), (1, 2, 10, 2, 5, 2)] {
        for group_bytes in [Conv::new(n, c, h, h, o, k, pad).group_bytes, 1] {
            let cv = Conv { group_bytes, ..Conv::new(n, c, h, h, o, k, pad) };
            let what = format!("{cv:?}");
            let (oh, ow) = cv.out();
            let (x, w) = (values(n * c * h * h, 1), values(o * c * k * k, 2));
            let m = (2..=MAX_TILE + 1 - k).min_by_key(|&m| (m + k - 1).pow(2) * oh.div_ceil(m) * ow.div_ceil(m)).unwrap();
            close(&forward(&x, &w, None, false, &cv, m).unwrap(), &naive(&x, &w, &cv), &what);
            // <dy, conv(x, w)> is bilinear: its gradients are the adjoints, checked against
            // the definition one unit vector at a time.
            let dy = values(n * o * oh * ow, 3);
            let dot = |x: &[f64], w: &[f64]| naive(x, w, &cv).iter().zip(&dy).map(|(a, b)| a * b).sum::<f64>();
            let unit = |len, i| (0..len).map(|j| if j == i { 1.0 } else { 0.0 }).collect::<Vec<f64>>();
            if pad < k {
                let gx = grad_input(&dy, &w, &cv, m).unwrap();
                let want: Vec<f64> = (0..x.len()).map(|i| dot(&unit(x.len(), i), &w)).collect();
                close(&gx, &want, &format!("{what} input gradient"));
            }
            let gw = grad_weight(&x, &dy, &cv, m).unwrap();
            let want: Vec<f64> = (0..w.len()).map(|i| dot(&x, &unit(w.len(), i))).collect();
            close(&gw, &want, &format!("{what} weight gradient"));
        }
    }
}

/// The slice functions check their operands: a wrong length or a kernel larger than the padded
/// input is an error naming it, not a panic or a read past the end.
#[test]
fn wrong_sizes_are_errors() {
    let cv = Conv::new(2, 3, 4, 4, 5, 3, 1);
    let (x, w, dy) = (vec![0f32; 2 * 3 * 16], vec![0f32; 5 * 3 * 9], vec![0f32; 2 * 5 * 16]);
    let e = forward(&x[1..], &w, None, false, &cv, 2).unwrap_err().to_string();
    assert!(e.contains("the input has 95 elements, expected 96"), "{e}");
    let e = forward(&x, &w, Some(&[0.0; 4]), false, &cv, 2).unwrap_err().to_string();
    assert!(e.contains("the bias has 4 elements, expected 5"), "{e}");
    let e = grad_weight(&x, &dy[1..], &cv, 2).unwrap_err().to_string();
    assert!(e.contains("the output gradient has 159 elements, expected 160"), "{e}");
    let wide = Conv { pad: 3, ..cv };
    let e = grad_input(&vec![0f32; 2 * 5 * 64], &w, &wide, 2).unwrap_err().to_string();
    assert!(e.contains("padding 3 is not below the kernel size 3"), "{e}");
    let e = forward(&x, &vec![0f32; 5 * 3 * 49], None, false, &Conv { k: 7, pad: 0, ..cv }, 2).unwrap_err().to_string();
    assert!(e.contains("no convolution"), "{e}");
    let e = forward(&x, &w, None, false, &cv, 7).unwrap_err().to_string();
    assert!(e.contains("no transform F(7, 3)"), "{e}");
}
