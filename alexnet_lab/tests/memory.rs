//! Batch size vs memory: the prediction from the model's shapes, the budget that stops a sweep
//! before the machine swaps, and a real (small) sweep measuring peak memory on CPU. One binary of
//! its own, so no other test's allocations show up in the measured peaks.

use alexnet_lab::candle::Device;
use alexnet_lab::lecture::batch_size::{self as memory, Estimate, SweepConfig};
use alexnet_lab::nn::ModelKind;
use alexnet_lab::Error;

#[test]
fn the_prediction_follows_from_the_models_shapes() {
    let e1 = memory::estimate(ModelKind::AlexNet, [1, 224, 224], 1).unwrap();
    // Weights + gradients + momentum of d2l's AlexNet (46,764,746 parameters), f32.
    assert_eq!(e1.params_bytes, 3 * 46_764_746 * 4);
    // The input (224x224) plus the 21 layer outputs of the shape walk (conv1 and its ReLU
    // 2 x 96x54x54, pool 96x26x26, ... fc3 10): 1,390,218 floats, kept and given a gradient.
    assert_eq!(e1.activations_bytes, 2 * 1_390_218 * 4);
    let e128 = memory::estimate(ModelKind::AlexNet, [1, 224, 224], 128).unwrap();
    assert_eq!(e128.params_bytes, e1.params_bytes, "parameters do not grow with the batch");
    assert_eq!(e128.activations_bytes, 128 * e1.activations_bytes, "activations grow linearly");
    let e = memory::estimate(ModelKind::AlexNet, [1, 64, 64], 1).unwrap_err().to_string();
    assert!(e.contains("65"), "too small an input is refused with the minimum: {e}");
}

#[test]
fn sizes_parse_with_units_and_bad_ones_say_how_to_write_them() {
    assert_eq!(memory::parse_bytes("6G").unwrap(), 6 << 30);
    assert_eq!(memory::parse_bytes("6GiB").unwrap(), 6 << 30);
    assert_eq!(memory::parse_bytes("512m").unwrap(), 512 << 20);
    assert_eq!(memory::parse_bytes("1.5G").unwrap(), 3 << 29);
    assert_eq!(memory::parse_bytes(" 4096 ").unwrap(), 4096);
    for bad in ["", "G", "6X", "-1G", "1.2.3G", "0"] {
        let e = memory::parse_bytes(bad).unwrap_err().to_string();
        assert!(e.contains("is not a size like 6G"), "{bad:?}: {e}");
    }
}

#[test]
fn over_the_budget_is_a_clear_error_naming_a_batch_that_fits() {
    // 9 GiB predicted, 13.5 GiB with the 1.5x margin.
    let e = Estimate { batch_size: 512, params_bytes: 1 << 30, activations_bytes: 8 << 30 };
    assert_eq!(memory::SAFETY_FACTOR, 1.5);
    assert!(memory::check_budget(&e, 14 << 30, &Device::Cpu).is_ok());
    let err = memory::check_budget(&e, 10 << 30, &Device::Cpu).unwrap_err();
    match &err {
        // (10 GiB - 1.5 GiB) / 24 MiB per example = 362 examples fit.
        Error::OverBudget { batch_size: 512, smaller: 362, .. } => {}
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("refused before running batch size 512") && msg.contains("predicted 9.00 GiB (parameters 1.00 GiB + activations 8.00 GiB), with the 1.5x margin 13.50 GiB > memory budget 10.00 GiB") && msg.contains(memory::BUDGET_ENV) && msg.contains("Try a smaller batch size, e.g. 362"), "{msg}");
    assert_eq!(err.setting(), Some("batch_size"));
}

#[test]
fn a_sweep_measures_each_batch_size_and_stops_at_the_budget() {
    // AlexNet at 67x67: batch 4, 8 and 512 fit 2 GB, batch 1,000,000 is predicted far above it.
    // The first point also pays the process's one-time costs (thread pools, GEMM buffers), so
    // growth is measured from the second.
    let cfg = SweepConfig {
        model: ModelKind::AlexNet,
        image_size: 67,
        batch_sizes: vec![1_000_000, 512, 4, 8, 512],
        budget_bytes: 2 << 30,
        steps: 1,
    };
    let mut seen = vec![];
    let points = memory::sweep(&cfg, &Device::Cpu, |p| seen.push(p.batch_size)).unwrap().points;
    let sizes: Vec<usize> = points.iter().map(|p| p.batch_size).collect();
    assert_eq!(sizes, [4, 8, 512, 1_000_000], "increasing order, each once");
    assert_eq!(seen, sizes, "every point is reported as it comes");
    let (small, big, over) = (&points[1], &points[2], &points[3]);
    for p in &points[..3] {
        assert!(p.error.is_none() && p.seconds_per_step.unwrap() > 0.0, "{p:?}");
        let m = p.measured_bytes.expect("peak memory measured on Linux") as f64;
        let pred = p.predicted.total_bytes() as f64;
        assert!(m > 0.2 * pred && m < 5.0 * pred, "batch {}: measured {m:.3e} vs predicted {pred:.3e}", p.batch_size);
    }
    // The batch adds ~500 MB of predicted activations (an upper bound: the lab's convolution
    // keeps less); at least a quarter of that shows in the peak.
    let grown = big.measured_bytes.unwrap() as f64 - small.measured_bytes.unwrap() as f64;
    let predicted_growth = (big.predicted.total_bytes() - small.predicted.total_bytes()) as f64;
    assert!(grown > 0.25 * predicted_growth, "a bigger batch takes more memory: {small:?} {big:?}");
    let e = over.error.as_deref().unwrap();
    assert!(e.contains("batch size 1000000") && e.contains("> memory budget 2.00 GiB"), "{e}");
    assert!(over.refused && over.outcome().starts_with("refused before running"), "{over:?}");
    assert!(points[..3].iter().all(|p| !p.refused && p.outcome() == "ran"));
    assert!(over.measured_bytes.is_none() && over.seconds_per_step.is_none(), "it never ran");
    let table = memory::render(&points);
    assert_eq!(table.lines().count(), 5, "{table}");
    let svg = memory::plot_svg(&points, "sweep").unwrap();
    assert!(svg.contains("predicted") && svg.contains("measured"));
    let bad = memory::sweep(&SweepConfig { batch_sizes: vec![0], ..cfg }, &Device::Cpu, |_| {});
    assert!(bad.unwrap_err().to_string().contains("at least 1"));
}
