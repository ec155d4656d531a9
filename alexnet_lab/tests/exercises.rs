//! Notebook 07's crate side (`lecture::exercises`): the experiments' recipes, the accuracy
//! interval, the per-layer costs worked out by hand, and an experiment trained, then loaded.

mod common;

use alexnet_lab::candle::Device;
use alexnet_lab::lecture::exercises::{self, accuracy_interval, Experiment, LayerCosts};
use alexnet_lab::train::{LrSchedule, TrainConfig};
use alexnet_lab::{LeNet, LeNetConfig, ModelKind};

#[test]
fn the_accuracy_interval_is_wilsons() {
    // Wilson's 95% interval, worked out with z = 1.959964:
    // 8930 of 10000: centre (0.893 + z²/20000) / (1 + z²/10000) = 0.892849,
    // half-width z / (1 + z²/10000) * sqrt(0.893 * 0.107 / 10000 + z² / 4e8) = 0.006059.
    let (lo, hi) = accuracy_interval(0.893, 10_000);
    assert!((lo - 0.886790).abs() < 2e-6 && (hi - 0.898908).abs() < 2e-6, "{lo} {hi}");
    // 10 of 10 right does not prove a perfect classifier: the interval reaches down to 0.72.
    let (lo, hi) = accuracy_interval(1.0, 10);
    assert!((lo - 0.722467).abs() < 2e-6 && (hi - 1.0).abs() < 1e-12, "{lo} {hi}");
    assert_eq!(accuracy_interval(0.5, 0), (0.0, 1.0));
}

#[test]
fn the_recorded_experiments_are_distinct_valid_recipes() {
    let all = exercises::recorded();
    let mut names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "two experiments share a run folder");
    for e in &all {
        e.config.validate().unwrap_or_else(|err| panic!("{}: {err}", e.name));
    }
    let get = |n: &str| all.iter().find(|e| e.name == n).unwrap_or_else(|| panic!("no {n}")).config.clone();
    // Exercise 2: the two smaller models keep cpu-full's recipe; the 28x28 net sees 28x28.
    for (n, model, size) in [("alexnet-small-cpu-full", ModelKind::AlexNetSmall, 80), ("vgg-28-cpu-full", ModelKind::Vgg28, 28)] {
        let c = get(n);
        assert_eq!((c.model, c.image_size), (model, size), "{n}");
        assert_eq!(TrainConfig { model: ModelKind::AlexNet, image_size: 80, ..c }, TrainConfig::cpu_full(), "{n}");
    }
    // Exercise 3: only the batch size differs.
    let b16 = get("alexnet-batch-16-2-epochs-12000-images");
    let b256 = get("alexnet-batch-256-2-epochs-12000-images");
    assert_eq!((b16.batch_size, b256.batch_size, b16.schedule), (16, 256, LrSchedule::Constant));
    assert_eq!(TrainConfig { batch_size: 16, ..b256 }, b16);
    // Exercise 5: ReLU LeNet differs from d2l's in its model and learning rate, augmentation adds crops and flips.
    let relu = get("lenet-relu-10-epochs");
    let aug = get("lenet-relu-augmented-10-epochs");
    assert_eq!((relu.model, relu.lr, relu.epochs, relu.batch_size), (ModelKind::LeNetRelu, 0.1, 10, 256));
    assert!(aug.augment.random_crop && aug.augment.hflip && !relu.augment.random_crop);
    // Exercise 6: dropout is the only difference.
    let with = get("overfit-alexnet-1000-images-30-epochs");
    let without = get("overfit-alexnet-no-dropout-1000-images-30-epochs");
    assert_eq!((with.limit, with.test_limit, with.epochs), (Some(1000), Some(2000), 30));
    assert_eq!(TrainConfig { model: ModelKind::AlexNet, ..without }, with);
}

#[test]
fn layer_costs_of_lenet_by_hand() {
    let (net, _) = LeNet::init(LeNetConfig::d2l(), 0, &Device::Cpu).unwrap();
    let costs = LayerCosts::of(&net, 2).unwrap();
    assert_eq!(costs.rows.len(), 12);
    // Layer 0: 5x5 conv 1->6, padding 2: 6*25+6 parameters, output 6x28x28, 28*28*6*25 MACs
    // an image. Moved: 156 parameters + 2 inputs of 784 + 2 outputs of 4704 numbers.
    let c0 = &costs.rows[0];
    assert_eq!((c0.param_bytes, c0.activation_bytes, c0.macs), (4 * 156, 4 * 2 * 4704, 2 * 117_600));
    let moved = 4.0 * (156.0 + 2.0 * 784.0 + 2.0 * 4704.0);
    assert!((c0.intensity.unwrap() - 2.0 * 235_200.0 / moved).abs() < 1e-9);
    // Layer 1 (sigmoid) has no multiply-adds, so no intensity; parameters only where d2l has them.
    assert_eq!((costs.rows[1].macs, costs.rows[1].intensity), (0, None));
    let all = costs.sum(None);
    assert_eq!(all.param_bytes, 4 * 61_706);
    let conv = costs.sum(Some("Conv2d"));
    let dense = costs.sum(Some("Linear"));
    assert_eq!(conv.param_bytes + dense.param_bytes, all.param_bytes);
    // d2l's LeNet: 416,520 MACs an image (conv 117,600 + 240,000, dense 48,000 + 10,080 + 840).
    assert_eq!((conv.macs, dense.macs), (2 * 357_600, 2 * 58_920));
    // Outputs: 4704 + 4704 + 1176 (pool) | 1600 + 1600 + 400 + 400 (flatten) | 120 + 120 + 84 + 84 + 10.
    let outs: u64 = [4704, 4704, 1176, 1600, 1600, 400, 400, 120, 120, 84, 84, 10].iter().sum();
    assert_eq!(all.activation_bytes, 4 * 2 * outs);
    assert_eq!(costs.training_bytes(), 3 * 4 * 61_706 + 4 * 2 * 784 + 4 * 2 * outs);
    assert!(LayerCosts::of(&net, 0).is_err());
    // Measured: every layer gets a time, and the table and the plot show them.
    let (lenet_relu, _) = ModelKind::LeNetRelu.init(None, 0, &Device::Cpu).unwrap();
    let e = costs.clone().measure(&lenet_relu, 1, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("not of LeNet for [1, 28, 28] (14 layers)"), "{e}");
    let measured = costs.measure(&net, 2, &Device::Cpu).unwrap();
    assert!(measured.rows.iter().all(|r| r.forward_seconds.is_some_and(|s| s > 0.0)));
    assert!(measured.to_string().contains("training holds"));
    measured.plot().unwrap();
}

#[test]
fn an_experiment_trains_once_then_loads() {
    common::hub_env();
    let tmp = common::tmpdir("exercises");
    let config = TrainConfig { epochs: 2, limit: Some(256), test_limit: Some(128), batch_size: 64, ..TrainConfig::lenet() };
    let e = Experiment { name: "tiny-lenet".into(), config };
    let first = e.run(tmp.path(), &Device::Cpu, false).unwrap();
    assert_eq!(first.history.epochs.len(), 2);
    assert_eq!((first.params, first.macs), (61_706, 416_520));
    assert!(first.label.starts_with("run tiny-lenet: profile lenet, LeNet 28x28, 2 epochs over 256 train images"), "{}", first.label);
    let weights = tmp.path().join("tiny-lenet").join("weights-epoch-0002.safetensors");
    let written = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let again = exercises::run_all(std::slice::from_ref(&e), tmp.path(), &Device::Cpu, false).unwrap();
    assert_eq!(std::fs::metadata(&weights).unwrap().modified().unwrap(), written, "the finished run was trained again");
    assert_eq!(again.rows[0].history.epochs, first.history.epochs);
    assert_eq!(again.get("tiny-lenet").unwrap().test_images(), 128);
    // Side by side with a recorded run, read from its checkpoint.json alone.
    let cmp = again.with_recorded(&common::workspace().join("data/fixtures/lenet-d2l")).unwrap();
    let table = cmp.to_string();
    assert!(table.contains("tiny-lenet") && table.contains("lenet-d2l"), "{table}");
    cmp.plot("test", true).unwrap();
    cmp.plot_against("test", "batch", |r| r.config.batch_size as f64).unwrap();
    // Exercise 7's table: each run's model measured at its input size, forward and training step.
    let eff = exercises::Efficiency::measure(&cmp.rows, 4, 1, &Device::Cpu).unwrap();
    assert_eq!(eff.rows.len(), 2);
    // Both measured (which is faster is a benchmark's question: two timings of a few
    // milliseconds on a shared machine decide nothing in a test).
    assert!(eff.rows.iter().all(|(_, fwd, step)| fwd.is_finite() && step.is_finite() && *fwd > 0.0 && *step > 0.0), "{:?}", eff.rows.iter().map(|(_, f, s)| (*f, *s)).collect::<Vec<_>>());
    let shown = eff.to_string();
    assert!(shown.contains("tiny-lenet") && shown.contains("0.06M"), "{shown}");
}
