//! What the GPU path is checked against, checked here on the CPU: the Philox4x32-10 generator of
//! the dropout masks (Random123's known answers; the parallel mask is the element-wise definition)
//! and the `gpu-check` harness (it covers every op, compares as it says, and fails a difference).
//! The CUDA ops themselves run only on a GPU machine (`alexnet-lab gpu-check`, docs/gpu).

use alexnet_lab::candle::{Device, Tensor};
use alexnet_lab::kernels::check::{self, against_cpu, compare, FP32_TOL};
use alexnet_lab::kernels::philox::{dropout_mask, keep_threshold, kept, philox4x32_10};

#[test]
fn philox_gives_random123s_known_answers() {
    // Random123 v1.14, tests/kat_vectors, "philox4x32 10" lines.
    assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    assert_eq!(
        philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
    );
}

#[test]
fn the_parallel_mask_is_the_elementwise_definition_whatever_the_threads() {
    let (seed, p) = (0x0123_4567_89ab_cdef, 0.5);
    // Not a multiple of 4 or of a thread's chunk: the last block is partial.
    let n = 3 * 4096 + 7;
    let mask = dropout_mask(seed, p, n);
    for (e, m) in mask.iter().enumerate() {
        assert_eq!(*m, if kept(seed, p, e) { 2.0 } else { 0.0 }, "element {e}");
    }
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| dropout_mask(seed, p, n));
    assert_eq!(one_thread, mask);
    let share = mask.iter().filter(|m| **m > 0.0).count() as f64 / n as f64;
    assert!((share - 0.5).abs() < 0.02, "{share}");
    assert_ne!(dropout_mask(seed + 1, p, n), mask);
    assert_eq!(keep_threshold(0.0), 0);
    assert_eq!(keep_threshold(0.5), 1 << 23);
    assert!(dropout_mask(seed, 0.0, 100).iter().all(|m| *m == 1.0));
    // The CUDA kernel's body, run on the CPU by docs/gpu/kernels_on_host.cu, prints the same
    // first ten: 1100100111.
    let first: String = mask[..10].iter().map(|m| if *m > 0.0 { '1' } else { '0' }).collect();
    assert_eq!(first, "1100100111");
}

/// On the CPU the harness compares the CPU with itself: every row is there and passes with no
/// difference (the device run is `alexnet-lab gpu-check` on a GPU machine).
#[test]
fn the_gpu_check_harness_covers_every_op_and_passes_on_the_cpu() {
    let rows = against_cpu(&Device::Cpu, FP32_TOL).unwrap();
    assert_eq!(rows.len(), check::ROWS);
    assert!(rows.iter().all(|r| r.ok && r.max_abs == 0.0), "{rows:#?}");
    for op in ["conv2d+relu", "  input gradient", "  weight gradient", "  bias gradient", "max_pool2d", "dropout mask"] {
        assert!(rows.iter().any(|r| r.op == op), "{op}");
    }
    // The tie case has ties (else the first-maximum rule would go untested).
    let x = check::input(&[2, 16, 26, 26], 302, true).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(x.iter().filter(|v| **v == 2.0).count() > 1000);
}

#[test]
fn a_difference_fails_its_bound() {
    let a = Tensor::new(&[1f32, -2.0, 4.0], &Device::Cpu).unwrap();
    let b = Tensor::new(&[1f32, -2.0, 4.001], &Device::Cpu).unwrap();
    assert!(compare("x", "y", &a, &a, 0.0).unwrap().ok);
    assert!(!compare("x", "y", &a, &b, 0.0).unwrap().ok);
    assert!(!compare("x", "y", &a, &b, 1e-4).unwrap().ok);
    assert!(compare("x", "y", &a, &b, 1e-3).unwrap().ok);
    let nan = Tensor::new(&[1f32, -2.0, f32::NAN], &Device::Cpu).unwrap();
    assert!(!compare("x", "y", &a, &nan, 1e-2).unwrap().ok);
}

/// The CPU's dropout (`nn::dropout`, what a training step runs) draws the Philox mask: the units
/// it keeps are the ones `kept` names, scaled by 1 / (1 - p), the same with one thread as with
/// the pool, so a CPU run and a GPU run of one seed drop the same units.
#[test]
fn the_cpu_dropout_draws_the_philox_mask() {
    use alexnet_lab::candle::{Device, Tensor};
    let (seed, p, n) = (0x0123_4567_89ab_cdef_u64, 0.5f32, 2 * 4096 + 3);
    let x = Tensor::ones(n, alexnet_lab::candle::DType::F32, &Device::Cpu).unwrap();
    let y: Vec<f32> = alexnet_lab::nn::dropout(&x, p, seed).unwrap().to_vec1().unwrap();
    for (e, v) in y.iter().enumerate() {
        assert_eq!(*v, if kept(seed, p, e) { 2.0 } else { 0.0 }, "element {e}");
    }
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let y1: Vec<f32> = one_thread.install(|| alexnet_lab::nn::dropout(&x, p, seed).unwrap().to_vec1().unwrap());
    assert_eq!(y1, y);
    let first: String = y[..10].iter().map(|m| if *m > 0.0 { '1' } else { '0' }).collect();
    assert_eq!(first, "1100100111");
}
