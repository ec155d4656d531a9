//! Training end to end on real Fashion-MNIST slices: the loss goes down, checkpoints
//! round-trip, resume continues at the right epoch, eval is deterministic, faults are errors.

mod common;

use std::path::Path;

use alexnet_lab::candle::{Device, Tensor};
use alexnet_lab::train::checkpoint;
use alexnet_lab::data::loader::{DataLoader, LoaderConfig};
use alexnet_lab::train::optim::{Sgd, SgdConfig};
use alexnet_lab::train::{self, Profile, TrainConfig, Trainer};
use alexnet_lab::Error;
use common::*;

fn opts(config: TrainConfig, out: &Path, resume: bool) -> Trainer {
    hub_env();
    Trainer { resume, ..Trainer::new(config).into_folder(out) }
}

/// d2l's `train_ch6` steps lower the loss: repeated SGD steps on one real batch of 32 images
/// (AlexNet at 67x67, the smoke profile's settings) bring its eval-mode loss down.
/// The weights file the checkpoint of `dir` names.
fn meta_weights(dir: &Path) -> String {
    checkpoint::read_meta(dir).unwrap().1.weights
}

#[test]
fn training_steps_lower_the_loss_on_real_data() {
    let data = hub_data();
    let cfg = TrainConfig { epochs: 12, ..TrainConfig::smoke() };
    let split = std::sync::Arc::new(data.train.take(32));
    let lc = |shuffle| LoaderConfig { batch_size: 32, shuffle, seed: 0, pipeline: cfg.pipeline(false), prefetch: 1 };
    let train_loader = DataLoader::new(split.clone(), lc(true)).unwrap();
    let eval_loader = DataLoader::new(split, lc(false)).unwrap();
    let (net, varmap) = cfg.model.init(Some([1, 67, 67]), 0, &Device::Cpu).unwrap();
    let before = train::evaluate(&net, &eval_loader, &Device::Cpu, false).unwrap().loss;
    let mut opt = Sgd::new(train::named_vars(&varmap), SgdConfig { lr: cfg.lr, momentum: cfg.momentum, weight_decay: 0.0 }).unwrap();
    let h = Trainer::new(cfg).fit_with(&net, &mut opt, &train_loader, &eval_loader, Default::default(), |_, _| Ok(())).unwrap();
    let after = train::evaluate(&net, &eval_loader, &Device::Cpu, false).unwrap().loss;
    assert_eq!(h.epochs.len(), 12);
    assert!(after < before - 0.05, "eval loss {before:.4} -> {after:.4}");
}

#[test]
fn smoke_run_leaves_a_run_folder() {
    let dir = tmpdir("smoke");
    let s = opts(TrainConfig::smoke(), &dir, false).run().unwrap();
    let e = &s.history.epochs;
    assert_eq!(e.len(), TrainConfig::smoke().epochs);
    assert!(e.iter().all(|m| m.train_loss.is_finite() && m.examples == 512));
    let (_, meta) = checkpoint::read_meta(&dir).unwrap();
    assert_eq!((meta.weights.as_str(), meta.optimizer.as_deref()), ("weights-epoch-0002.safetensors", Some("optimizer-epoch-0002.safetensors")));
    let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains("epoch-0001") || n.ends_with(".tmp")), "epoch 1's files are gone: {names:?}");
    for f in [meta.weights.as_str(), meta.optimizer.as_deref().unwrap(), "checkpoint.json", "metrics.csv", "curve.csv", "curve.svg"] {
        assert!(dir.join(f).is_file(), "{f} missing");
        // Readable by others like every file of the folder (the safetensors writer makes 0600).
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o644, "{f}");
    }
    // d2l's Animator: a train point every num_batches // 5 steps and at the epoch's end (16 batches:
    // steps 3, 6, 9, 12, 15, 16), one test point per epoch.
    let train_pts = s.history.curve.iter().filter(|p| p.train_loss.is_some()).count();
    let test_pts = s.history.curve.iter().filter(|p| p.test_acc.is_some()).count();
    assert_eq!((train_pts, test_pts), (e.len() * 6, e.len()));
    let lines = s.history.final_lines();
    assert!(lines.starts_with("loss ") && lines.contains(", train acc ") && lines.contains("examples/sec on cpu"), "{lines}");
    let svg = std::fs::read_to_string(dir.join("curve.svg")).unwrap();
    assert!(svg.contains("train loss") && svg.contains("test acc"));
}

#[test]
fn checkpoint_round_trip_gives_identical_logits_and_eval_is_deterministic() {
    let dir = tmpdir("ckpt");
    let cfg = TrainConfig { epochs: 1, limit: Some(128), test_limit: Some(64), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let (a, _, meta) = checkpoint::load_model(&dir, &Device::Cpu).unwrap();
    let (b, _, _) = checkpoint::load_model(&dir.join(meta_weights(&dir)), &Device::Cpu).unwrap();
    assert_eq!(meta.epoch(), 1);
    assert_eq!(meta.config, cfg);
    let x = Tensor::rand(0f32, 1f32, (4, 1, 67, 67), &Device::Cpu).unwrap();
    let la: Vec<Vec<f32>> = a.forward(&x, false).unwrap().to_vec2().unwrap();
    let lb: Vec<Vec<f32>> = b.forward(&x, false).unwrap().to_vec2().unwrap();
    let la2: Vec<Vec<f32>> = a.forward(&x, false).unwrap().to_vec2().unwrap();
    assert_eq!(la, lb, "same checkpoint, same logits");
    assert_eq!(la, la2, "eval mode is deterministic (dropout off)");
    let lt: Vec<Vec<f32>> = a.forward(&x, true).unwrap().to_vec2().unwrap();
    assert_ne!(la, lt, "train mode applies dropout");
}

#[test]
fn resume_continues_after_the_last_complete_epoch() {
    let dir = tmpdir("resume");
    let cfg = TrainConfig { epochs: 1, limit: Some(128), test_limit: Some(64), ..TrainConfig::smoke() };
    let first = opts(cfg.clone(), &dir, false).run().unwrap();
    let w1 = std::fs::read(dir.join(meta_weights(&dir))).unwrap();
    let more = TrainConfig { epochs: 3, ..cfg };
    let s = opts(more, &dir, true).run().unwrap();
    assert_eq!(s.resumed_from, 1);
    let epochs: Vec<usize> = s.history.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [1, 2, 3]);
    assert_eq!(s.history.epochs[0], first.history.epochs[0], "epoch 1 kept as it was");
    let (_, meta) = checkpoint::read_meta(&dir).unwrap();
    assert_eq!(meta.epoch(), 3);
    assert_ne!(std::fs::read(dir.join(meta_weights(&dir))).unwrap(), w1, "weights moved on");
    // Resuming with another model is refused, naming both.
    let other = TrainConfig { image_size: 96, epochs: 4, ..TrainConfig::smoke() };
    let e = opts(other, &dir, true).run().unwrap_err().to_string();
    assert!(e.contains("[1, 67, 67]") && e.contains("[1, 96, 96]"), "{e}");
}

#[test]
fn nan_loss_stops_with_advice_and_keeps_the_last_checkpoint() {
    let dir = tmpdir("nan");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let before = std::fs::read(dir.join(meta_weights(&dir))).unwrap();
    // A new run into the same folder with a learning rate that explodes at once (resuming with
    // another recipe is refused, see below).
    let wild = TrainConfig { epochs: 2, lr: 1e300, momentum: 0.0, ..cfg };
    let e = opts(wild, &dir, false).run().unwrap_err();
    // Fresh weights: the first step's loss is finite (ln 10), the update then explodes.
    match &e {
        Error::Diverged { epoch: 1, step: 2, last_finite, lr, suggested, .. } => {
            assert!((last_finite - 10f64.ln()).abs() < 0.05, "{e}");
            assert_eq!((*lr, *suggested), (1e300, 1e299));
        }
        other => panic!("expected divergence at epoch 1, step 2: {other}"),
    }
    assert!(e.to_string().contains("learning rate"), "{e}");
    assert_eq!(std::fs::read(dir.join(meta_weights(&dir))).unwrap(), before);
    assert_eq!(checkpoint::read_meta(&dir).unwrap().1.epoch(), 1);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tmpdir("badcfg");
    let cases: Vec<(TrainConfig, &str)> = vec![
        (TrainConfig { batch_size: 0, ..TrainConfig::smoke() }, "batch size must be at least 1"),
        (TrainConfig { image_size: 64, ..TrainConfig::smoke() }, "smallest it takes is 65x65"),
        (TrainConfig { lr: -0.1, ..TrainConfig::smoke() }, "learning rate must be a positive number"),
        (TrainConfig { lr: f64::NAN, ..TrainConfig::smoke() }, "learning rate must be a positive number"),
        (TrainConfig { epochs: 0, ..TrainConfig::smoke() }, "epochs must be at least 1"),
    ];
    for (cfg, needle) in cases {
        let e = opts(cfg, &dir, false).run().unwrap_err();
        // A notebook user has no flags: the error names the setting (the config's field) instead.
        assert!(e.to_string().contains(needle) && !e.to_string().contains("--"), "{e}");
        if !needle.contains("65x65") {
            assert!(matches!(e, Error::Config { setting: Some(_), .. }), "{e:?}");
        }
    }
    assert_eq!(TrainConfig::for_profile(Profile::D2l), TrainConfig::d2l());
}

#[test]
fn missing_checkpoint_is_a_clear_error() {
    let dir = tmpdir("nockpt");
    let e = checkpoint::load_model(&dir, &Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("no checkpoint in") && e.contains("checkpoint.json"), "{e}");
}

#[test]
fn device_out_of_memory_is_reported_with_the_batch_size() {
    // What candle's CUDA backend says when an allocation or cuBLAS set-up fails.
    for msg in [
        "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")",
        "cublas error: CUBLAS_STATUS_NOT_INITIALIZED",
        "cublas error: CUBLAS_STATUS_ALLOC_FAILED",
    ] {
        let e = Error::from_device(alexnet_lab::candle::Error::Msg(msg.into()), "cuda:0", 512);
        let s = e.to_string();
        assert!(matches!(e, Error::OutOfMemory { batch_size: 512, smaller: 256, .. }), "{s}");
        assert!(s.contains("batch size 512") && s.contains("Try a smaller batch size, e.g. 256"), "{s}");
        // The binary adds "(set with --batch-size)"; the library message names no flag.
        assert_eq!(e.setting(), Some("batch_size"), "{s}");
        assert!(!s.contains("--"), "{s}");
    }
    let other = Error::from_device(alexnet_lab::candle::Error::Msg("shape mismatch".into()), "cuda:0", 8);
    assert!(matches!(other, Error::Candle(_)));
    // With RUST_BACKTRACE set candle wraps its error with a backtrace: the message leaves it out.
    let cuda = alexnet_lab::candle::Error::Msg("DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")".into());
    let traced = alexnet_lab::candle::Error::WithBacktrace {
        inner: Box::new(cuda),
        backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
    };
    let s = Error::from_device(traced, "cuda:0", 4096).to_string();
    assert_eq!(
        s,
        "out of memory on cuda:0 at batch size 4096: DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\"). \
         Try a smaller batch size, e.g. 2048"
    );
}

/// The fused in-place SGD update (CPU) follows PyTorch's `torch.optim.SGD` step by step:
/// `g += wd * p; v = m * v + g` (first step `v = g`); `p -= lr * v`; without momentum `p -= lr * g`.
#[test]
fn sgd_update_matches_pytorchs_formula() {
    for (momentum, wd) in [(0.9, 0.0005), (0.0, 0.0), (0.0, 0.01), (0.5, 0.0)] {
        let p0: Vec<f32> = (0..100_000).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 700.0).collect();
        let c: Vec<f32> = (0..100_000).map(|i| ((i * 104_729 % 997) as f32 - 498.0) / 300.0).collect();
        let var = alexnet_lab::candle::Var::new(p0.as_slice(), &Device::Cpu).unwrap();
        let ct = Tensor::new(c.as_slice(), &Device::Cpu).unwrap();
        let mut opt = Sgd::new(vec![("w".into(), var.clone())], SgdConfig { lr: 0.05, momentum, weight_decay: wd }).unwrap();
        let (mut p, mut v) = (p0.iter().map(|&x| x as f64).collect::<Vec<_>>(), vec![0f64; p0.len()]);
        for step in 0..3 {
            // loss = sum(c * p) + sum(p^2) / 2, so dloss/dp = c + p.
            let pt = var.as_tensor();
            let loss = ((pt * &ct).unwrap().sum_all().unwrap() + (pt.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap()).unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
            for i in 0..p.len() {
                let g = c[i] as f64 + p[i] + wd * p[i];
                v[i] = if momentum > 0.0 { if step == 0 { g } else { momentum * v[i] + g } } else { g };
                p[i] -= 0.05 * v[i];
            }
            let got: Vec<f32> = var.as_tensor().to_vec1().unwrap();
            let worst = got.iter().zip(&p).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-5, "momentum {momentum}, wd {wd}, step {step}: off by {worst}");
        }
        assert_eq!(opt.state().len(), usize::from(momentum > 0.0), "a momentum buffer only with momentum");
    }
}

/// A new run into an old run folder saves the same epoch again: the committed checkpoint's files
/// are not overwritten before the new JSON commits (new names), and are removed after it.
#[test]
fn saving_an_epoch_again_never_touches_the_committed_files() {
    let dir = tmpdir("again");
    let cfg = TrainConfig { model: alexnet_lab::ModelKind::LeNet, image_size: 28, epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let first = checkpoint::read_meta(&dir).unwrap().1;
    let bytes = std::fs::read(dir.join(&first.weights)).unwrap();
    opts(TrainConfig { seed: 1, ..cfg }, &dir, false).run().unwrap();
    let second = checkpoint::read_meta(&dir).unwrap().1;
    assert_ne!(second.weights, first.weights, "a new file for the new epoch 1");
    assert_ne!(std::fs::read(dir.join(&second.weights)).unwrap(), bytes, "other seed, other weights");
    assert!(!dir.join(&first.weights).exists(), "the old file goes after the commit");
    checkpoint::load_model(&dir, &Device::Cpu).unwrap();
}

/// All the weights of a run folder's checkpoint as raw bits, by name.
fn weight_bits(dir: &Path) -> Vec<(String, Vec<u32>)> {
    let (d, meta) = checkpoint::read_meta(dir).unwrap();
    let t = checkpoint::load_tensors(&d.join(&meta.weights), &Device::Cpu).unwrap();
    let mut v: Vec<(String, Vec<u32>)> =
        t.into_iter().map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|x| x.to_bits()).collect())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn step_losses(h: &train::History) -> Vec<u64> {
    h.epochs.iter().flat_map(|e| e.step_losses.iter().map(|l| l.to_bits())).collect()
}

/// The same seed and configuration give the same run, bit for bit (dropout masks included),
/// and a run stopped after epoch 1 and resumed ends exactly where an uninterrupted one does.
#[test]
fn runs_are_reproducible_and_resume_is_exact() {
    let cfg = TrainConfig { epochs: 2, limit: Some(192), test_limit: Some(64), ..TrainConfig::smoke() };
    let (a, b, c) = (tmpdir("repro-a"), tmpdir("repro-b"), tmpdir("repro-c"));
    for d in [&a, &b, &c] {
        let _ = std::fs::remove_dir_all(d);
    }
    let ha = opts(cfg.clone(), &a, false).run().unwrap().history;
    let hb = opts(cfg.clone(), &b, false).run().unwrap().history;
    assert_eq!(step_losses(&ha).len(), 2 * 6);
    assert_eq!(step_losses(&ha), step_losses(&hb), "per-step losses");
    assert_eq!(weight_bits(&a), weight_bits(&b), "final weights");
    // Another seed is another run.
    let d = tmpdir("repro-d");
    let _ = std::fs::remove_dir_all(&d);
    let hd = opts(TrainConfig { seed: 1, ..cfg.clone() }, &d, false).run().unwrap().history;
    assert_ne!(step_losses(&ha), step_losses(&hd));

    // Interrupted after epoch 1, resumed: the same weights, momentum and losses as run a.
    opts(TrainConfig { epochs: 1, ..cfg.clone() }, &c, false).run().unwrap();
    let hc = opts(cfg.clone(), &c, true).run().unwrap().history;
    assert_eq!(step_losses(&hc), step_losses(&ha));
    assert_eq!(weight_bits(&c), weight_bits(&a), "resumed weights");
    let mom = |dir: &Path| {
        let (d, meta) = checkpoint::read_meta(dir).unwrap();
        let mut v: Vec<(String, Vec<f32>)> = checkpoint::load_optimizer(&d, &meta, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    let (ma, mc) = (mom(&a), mom(&c));
    assert!(!ma.is_empty() && ma.iter().any(|(_, v)| v.iter().any(|x| *x != 0.0)));
    assert!(ma == mc, "momentum buffers after resume");
}

/// `--resume` as a job scheduler uses it: the same command line before and after a preemption.
#[test]
fn resume_without_a_checkpoint_starts_a_new_run_and_a_changed_recipe_is_refused() {
    let dir = tmpdir("resume-fresh");
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    let s = opts(cfg.clone(), &dir, true).run().unwrap();
    assert_eq!((s.resumed_from, s.history.epochs.len()), (0, 1));
    for (changed, needle) in [
        (TrainConfig { lr: 0.1, ..cfg.clone() }, "lr 0.01 -> 0.1"),
        (TrainConfig { batch_size: 16, ..cfg.clone() }, "batch_size 32 -> 16"),
        (TrainConfig { seed: 7, ..cfg.clone() }, "seed 0 -> 7"),
    ] {
        let e = opts(changed, &dir, true).run().unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("another recipe"), "{e}");
    }
    // Asking for no more epochs than done: nothing to train, the checkpoint stays.
    let before = meta_weights(&dir);
    let s = opts(cfg, &dir, true).run().unwrap();
    assert_eq!((s.resumed_from, s.history.epochs.len(), meta_weights(&dir)), (1, 1, before));
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_while_the_first_holds_it() {
    let dir = tmpdir("lock");
    let held = train::lock_run_folder(&dir).unwrap();
    let cfg = TrainConfig { epochs: 1, limit: Some(32), test_limit: Some(32), ..TrainConfig::smoke() };
    let e = opts(cfg.clone(), &dir, false).run().unwrap_err().to_string();
    assert!(e.contains("another training run is writing into") && e.contains(".lock"), "{e}");
    assert!(!dir.join("checkpoint.json").exists());
    drop(held);
    opts(cfg, &dir, false).run().unwrap();
}

/// The general (non-fused) SGD path, taken for f64 parameters (and on GPUs), follows the same
/// formula and agrees with the fused f32 path.
#[test]
fn sgd_general_path_matches_pytorchs_formula_and_the_fused_one() {
    use alexnet_lab::candle::{DType, Var};
    for (momentum, wd) in [(0.9, 0.0005), (0.0, 0.01)] {
        let p0: Vec<f64> = (0..1000).map(|i| ((i * 7919 % 1000) as f64 - 500.0) / 700.0).collect();
        let c: Vec<f64> = (0..1000).map(|i| ((i * 104_729 % 997) as f64 - 498.0) / 300.0).collect();
        let run = |dtype: DType| -> Vec<f64> {
            let var = Var::from_tensor(&Tensor::new(p0.as_slice(), &Device::Cpu).unwrap().to_dtype(dtype).unwrap()).unwrap();
            let ct = Tensor::new(c.as_slice(), &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
            let mut opt = Sgd::new(vec![("w".into(), var.clone())], SgdConfig { lr: 0.05, momentum, weight_decay: wd }).unwrap();
            for _ in 0..3 {
                let pt = var.as_tensor();
                let loss = ((pt * &ct).unwrap().sum_all().unwrap() + (pt.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap()).unwrap();
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            var.as_tensor().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
        };
        let (mut p, mut v) = (p0.clone(), vec![0f64; p0.len()]);
        for step in 0..3 {
            for i in 0..p.len() {
                let g = c[i] + p[i] + wd * p[i];
                v[i] = if momentum > 0.0 && step > 0 { momentum * v[i] + g } else { g };
                p[i] -= 0.05 * v[i];
            }
        }
        let general = run(DType::F64);
        let worst = general.iter().zip(&p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-12, "f64 (general path), momentum {momentum}, wd {wd}: off by {worst}");
        let fused = run(DType::F32);
        let worst = fused.iter().zip(&general).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-5, "f32 fused vs f64 general: off by {worst}");
    }
}

/// The committed LeNet (`data/fixtures/lenet-d2l`, trained by the `lenet` profile) evaluated
/// again on all 10,000 test images gives exactly the test accuracy its run recorded: data,
/// model, checkpoint loading and evaluation agree with the training run.
#[test]
fn the_committed_lenet_reproduces_its_recorded_test_accuracy() {
    let data = hub_data();
    let dir = workspace().join("data/fixtures/lenet-d2l");
    let (net, _, meta) = checkpoint::load_model(&dir, &Device::Cpu).unwrap();
    assert_eq!((meta.config.profile, meta.epoch()), (Profile::Lenet, 10));
    let recorded = meta.history.epochs.last().unwrap().test_acc;
    let lc = LoaderConfig { batch_size: 256, shuffle: false, seed: 0, pipeline: meta.config.pipeline(false), prefetch: 2 };
    let loader = DataLoader::new(std::sync::Arc::new(data.test.clone()), lc).unwrap();
    let ev = train::evaluate(&net, &loader, &Device::Cpu, false).unwrap();
    assert_eq!((ev.examples, ev.accuracy), (10_000, recorded));
    assert!(recorded > 0.77, "d2l's LeNet reaches 0.779; this one {recorded}");
}

/// A learning-rate schedule: checked when set, recorded in the checkpoint, part of the recipe a
/// resume must keep (a cosine spans the run's epochs, so even their number is fixed).
#[test]
fn a_schedule_is_checked_and_kept_by_resume() {
    use alexnet_lab::train::LrSchedule;
    let cfg = TrainConfig { epochs: 2, limit: Some(64), test_limit: Some(32), schedule: LrSchedule::Cosine, warmup_epochs: 1.0, ..TrainConfig::smoke() };
    for bad in [-0.5, 2.0, f64::NAN] {
        let e = TrainConfig { warmup_epochs: bad, ..cfg.clone() }.validate().unwrap_err().to_string();
        assert!(e.contains("warm-up must last from 0 to fewer than the 2 epochs"), "{e}");
    }
    let steps = 2; // 64 examples, batch 32
    let lrs: Vec<f64> = (0..2).flat_map(|e| (0..steps).map(move |s| (e, s))).map(|(e, s)| cfg.lr_at(e, s, steps)).collect();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(lrs[0], cfg.lr * 0.5), "warm-up over epoch 1's 2 steps: half the peak first: {lrs:?}");
    assert!(close(lrs[1], cfg.lr) && close(lrs[2], cfg.lr), "the peak at the end of the warm-up: {lrs:?}");
    assert!(close(lrs[3], cfg.lr * 0.5), "half-way down the cosine over epoch 2: {lrs:?}");
    let dir = tmpdir("schedule");
    let _ = std::fs::remove_dir_all(&dir);
    opts(cfg.clone(), &dir, false).run().unwrap();
    let meta = checkpoint::read_meta(&dir).unwrap().1;
    assert_eq!((meta.config.schedule, meta.config.warmup_epochs), (LrSchedule::Cosine, 1.0));
    let e = opts(TrainConfig { epochs: 3, ..cfg.clone() }, &dir, true).run().unwrap_err().to_string();
    assert!(e.contains("epochs 2 -> 3 (the cosine schedule spans the run's epochs)"), "{e}");
    let e = opts(TrainConfig { schedule: LrSchedule::Constant, ..cfg.clone() }, &dir, true).run().unwrap_err().to_string();
    assert!(e.contains("schedule Cosine -> Constant"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run killed between committing an epoch's checkpoint and writing metrics.csv (which follows
/// it) leaves the metrics an epoch behind; resuming, even a finished run, writes them again from
/// the checkpoint's history.
#[test]
fn resuming_repairs_metrics_an_epoch_behind_the_checkpoint() {
    use alexnet_lab::report::table::read_csv;
    let dir = tmpdir("metrics-behind");
    let cfg = TrainConfig { epochs: 2, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let full = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    // The file as it was after epoch 1: the header and the first row.
    let behind: String = full.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("metrics.csv"), &behind).unwrap();
    assert_eq!(read_csv(dir.join("metrics.csv")).unwrap().height(), 1);
    // The same command again: nothing to train, and the metrics match the checkpoint again.
    let s = opts(cfg, &dir, true).run().unwrap();
    assert_eq!((s.resumed_from, s.history.epochs.len()), (2, 2));
    assert_eq!(std::fs::read_to_string(dir.join("metrics.csv")).unwrap(), full);
}

/// A run killed after its checkpoint's commit but before `save` removed the previous epoch's
/// files (seen once in the random kill test: `optimizer-epoch-0005` beside a finished epoch 6):
/// the next run in the folder removes them, and keeps the committed ones.
#[test]
fn files_of_an_earlier_epoch_left_by_a_kill_after_the_commit_go_at_the_next_run() {
    let dir = tmpdir("stale-epoch");
    let cfg = TrainConfig { epochs: 2, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let (_, meta) = alexnet_lab::train::checkpoint::read_meta(&dir).unwrap();
    let current = [meta.weights.clone(), meta.optimizer.clone().unwrap()];
    for stale in ["weights-epoch-0001.safetensors", "optimizer-epoch-0001.safetensors"] {
        std::fs::copy(dir.join(&current[0]), dir.join(stale)).unwrap();
    }
    let s = opts(cfg, &dir, true).run().unwrap();
    assert_eq!(s.resumed_from, 2);
    let mut tensors: Vec<String> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors")).collect();
    tensors.sort();
    let mut want = current.to_vec();
    want.sort();
    assert_eq!(tensors, want);
}

#[test]
fn the_plan_says_what_a_run_will_do_and_measures_how_long() {
    let dir = tmpdir("plan");
    let cfg = TrainConfig { epochs: 1, limit: Some(128), test_limit: Some(64), ..TrainConfig::smoke() };
    // Nothing there yet: a new run, its steps counted from the config, timed here.
    let p = opts(cfg.clone(), &dir, true).plan().unwrap();
    assert_eq!(p.action, train::Action::Start);
    let e = p.estimate.expect("an estimate when there is training to do");
    assert_eq!((e.steps, e.eval_batches), (128usize.div_ceil(32), 64usize.div_ceil(32)));
    assert!(e.step_seconds > 0.0 && e.eval_batch_seconds > 0.0 && e.total_seconds() > e.train_seconds(), "{e:?}");
    let shown = p.to_string();
    assert!(shown.starts_with("no run in ") && shown.contains("4 steps of batch 32 at 67x67") && shown.contains("crate built from commit"), "{shown}");
    // A finished run is only loaded, and nothing is timed.
    opts(cfg.clone(), &dir, false).run().unwrap();
    let p = opts(cfg.clone(), &dir, true).plan().unwrap();
    assert_eq!((p.action.clone(), p.done, p.estimate), (train::Action::Load, 1, None));
    assert!(p.to_string().contains("holds a finished run of profile smoke (1 of 1 epochs): training only loads it"), "{p}");
    // More epochs: it resumes, and only the epochs left are counted.
    let more = TrainConfig { epochs: 3, ..cfg };
    let p = opts(more.clone(), &dir, true).plan().unwrap();
    assert_eq!(p.action, train::Action::Resume { done: 1 });
    assert_eq!(p.estimate.unwrap().steps, 2 * 4);
    // Another recipe in the folder: refused as `run` refuses it.
    let other = TrainConfig { lr: 0.05, ..more };
    let e = opts(other, &dir, true).plan().unwrap_err().to_string();
    assert!(e.contains("another recipe") && e.contains("lr 0.01 -> 0.05"), "{e}");
}

#[test]
fn checkpoints_and_run_labels_name_the_commit_that_trained_them() {
    let dir = tmpdir("commit");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg, &dir, false).run().unwrap();
    let (_, meta) = checkpoint::read_meta(&dir).unwrap();
    let commit = alexnet_lab::sys::build::COMMIT;
    assert_eq!(meta.commit.as_deref(), Some(commit));
    assert!(commit == "unknown" || commit.trim_end_matches("+changes").len() == 12, "{commit}");
    let label = train::run_label(&dir).unwrap();
    assert!(label.contains(&format!(", commit {commit}, saved ")), "{label}");
}

#[test]
fn a_resumed_run_removes_what_a_killed_save_left() {
    // What a kill inside a save leaves: safetensors' own temporary file (`.tmpXXXXXX`, the
    // whole tensor file when AlexNet's: 85-170 MB) and the lab's `<file>.tmp` names.
    let dir = tmpdir("leftovers");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let left = [".tmpAb3xYz", "weights-epoch-0002.safetensors.tmp", "metrics.csv.tmp"];
    for name in left {
        std::fs::write(dir.join(name), b"half a tensor file").unwrap();
    }
    std::fs::write(dir.join("notes.txt"), b"the learner's own file").unwrap();
    std::fs::write(dir.join(".tmpnotours"), b"not a tempfile name").unwrap();
    opts(TrainConfig { epochs: 2, ..cfg }, &dir, true).run().unwrap();
    for name in left {
        assert!(!dir.join(name).exists(), "{name} is still there");
    }
    assert!(dir.join("notes.txt").exists() && dir.join(".tmpnotours").exists(), "only what writes leave is removed");
    for name in left {
        assert!(checkpoint::is_interrupted_write(name), "{name}");
    }
    for name in ["checkpoint.json", "weights-epoch-0002.safetensors", ".tmp", ".tmpAb3xYz9", "notes.tmp"] {
        assert!(!checkpoint::is_interrupted_write(name), "{name}");
    }
}

#[test]
fn weights_gone_non_finite_in_the_last_step_are_never_committed() {
    // One step per epoch: its loss is finite (fresh weights, ln 10), and the update at lr 1e300
    // fills the weights with infinities and NaNs after the last loss was seen. The check before
    // the save finds them: an error naming the epoch, the step and a learning rate, and no
    // checkpoint (before the check this run exited Ok with those weights committed).
    let dir = tmpdir("diverged-weights");
    let cfg = TrainConfig { epochs: 2, limit: Some(32), test_limit: Some(32), lr: 1e300, momentum: 0.0, ..TrainConfig::smoke() };
    let e = opts(cfg, &dir, false).run().unwrap_err();
    match &e {
        Error::DivergedWeights { epoch: 1, step: 1, why, suggested, .. } => {
            assert!(why.contains("holds NaN or infinite values"), "{e}");
            assert_eq!(*suggested, 1e299);
        }
        other => panic!("expected divergence found before the save of epoch 1: {other}"),
    }
    assert!(e.to_string().contains("try a learning rate of 1e299") && e.to_string().contains("Nothing of this epoch was saved"), "{e}");
    assert!(!dir.join(checkpoint::META_FILE).exists(), "nothing committed");
    // The check itself: a parameter or a momentum buffer with a NaN is named.
    let (_, varmap) = alexnet_lab::ModelKind::LeNet.init(None, 0, &Device::Cpu).unwrap();
    let mut opt = Sgd::new(train::named_vars(&varmap), SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.0 }).unwrap();
    assert_eq!(opt.first_non_finite().unwrap(), None);
    let (name, var) = train::named_vars(&varmap).into_iter().nth(3).unwrap();
    var.set(&(var.as_tensor() * f64::NAN).unwrap()).unwrap();
    assert_eq!(opt.first_non_finite().unwrap(), Some(name.clone()));
    var.set(&var.as_tensor().zeros_like().unwrap()).unwrap();
    let state: std::collections::HashMap<String, Tensor> = train::named_vars(&varmap)
        .into_iter()
        .map(|(n, v)| (format!("momentum.{n}"), if n == name { (v.as_tensor().ones_like().unwrap() * f64::INFINITY).unwrap() } else { v.as_tensor().zeros_like().unwrap() }))
        .collect();
    opt.load_state(&state, "optimizer file").unwrap();
    assert_eq!(opt.first_non_finite().unwrap(), Some(format!("momentum.{name}")));
}

#[test]
fn an_optimizer_file_missing_a_buffer_or_of_another_dtype_is_refused() {
    let (_, varmap) = alexnet_lab::ModelKind::LeNet.init(None, 0, &Device::Cpu).unwrap();
    let vars = train::named_vars(&varmap);
    let full: std::collections::HashMap<String, Tensor> =
        vars.iter().map(|(n, v)| (format!("momentum.{n}"), v.as_tensor().zeros_like().unwrap())).collect();
    let mut opt = Sgd::new(vars.clone(), SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.0 }).unwrap();
    opt.load_state(&full, "opt.safetensors").unwrap();
    let mut missing = full.clone();
    let gone = format!("momentum.{}", vars[0].0);
    missing.remove(&gone);
    let e = opt.load_state(&missing, "opt.safetensors").unwrap_err().to_string();
    assert!(e.contains("opt.safetensors has no `") && e.contains(&gone), "{e}");
    let mut wrong = full.clone();
    wrong.insert(gone.clone(), wrong[&gone].to_dtype(alexnet_lab::candle::DType::F64).unwrap());
    let e = opt.load_state(&wrong, "opt.safetensors").unwrap_err().to_string();
    assert!(e.contains(&gone) && e.contains("F64"), "{e}");
    // Without momentum there is nothing to miss.
    Sgd::new(vars, SgdConfig { lr: 0.1, momentum: 0.0, weight_decay: 0.0 }).unwrap().load_state(&Default::default(), "none").unwrap();
}

#[test]
fn a_reader_of_a_folder_being_trained_loads_the_newer_checkpoint_when_its_files_went() {
    // `eval` read checkpoint.json, then the training run committed the next epoch and removed
    // the files that JSON named, then `eval` opened the weights: they are gone. The reader
    // loads the folder's new checkpoint instead (before: an error "cannot read ...").
    let dir = tmpdir("reader");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    opts(cfg.clone(), &dir, false).run().unwrap();
    let (d, stale) = checkpoint::read_meta(&dir).unwrap();
    opts(TrainConfig { epochs: 2, ..cfg }, &dir, true).run().unwrap();
    assert!(!dir.join(&stale.weights).exists(), "epoch 1's weights were removed by the save of epoch 2");
    let (_, _, meta) = checkpoint::load_model_with_meta(&d, stale, &Device::Cpu).unwrap();
    assert_eq!(meta.epoch(), 2, "the checkpoint the folder holds now");
    // A JSON naming a file that is missing for another reason stays an error, naming it.
    std::fs::remove_file(dir.join(&meta.weights)).unwrap();
    let Err(e) = checkpoint::load_model(&dir, &Device::Cpu) else { panic!("loaded without its weights file") };
    let e = e.to_string();
    assert!(e.contains(&meta.weights) && e.contains("missing"), "{e}");
}

/// d2l's call, `train_ch6(net, train_iter, test_iter, num_epochs, lr, device)`: LeNet at d2l's
/// lr 0.9 on 1,024 real training images trains the network it is given (its own parameters,
/// found from the network: `Sequential::vars`) and returns one history line per epoch.
#[test]
fn train_ch6_is_d2ls_call_and_trains_the_network_it_is_given() {
    let data = hub_data();
    let pipeline = alexnet_lab::data::Pipeline::resize(28);
    let train_iter = DataLoader::new(std::sync::Arc::new(data.train.take(1024)), LoaderConfig::shuffled(256, pipeline, 0)).unwrap();
    let test_iter = DataLoader::new(std::sync::Arc::new(data.test.take(512)), LoaderConfig::in_order(256, pipeline)).unwrap();
    let (net, _) = alexnet_lab::ModelKind::LeNet.init(None, 0, &Device::Cpu).unwrap();
    let w0 = net.weight(0).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let before = train::evaluate(&net, &test_iter, &Device::Cpu, false).unwrap().loss;
    let h = train::train_ch6(&net, &train_iter, &test_iter, 3, 0.9, &Device::Cpu).unwrap();
    assert_eq!(h.epochs.len(), 3);
    let after = train::evaluate(&net, &test_iter, &Device::Cpu, false).unwrap();
    assert!(w0 != net.weight(0).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap(), "the network's own weights moved");
    assert!(after.loss < before - 0.05, "test loss {before:.4} -> {:.4}", after.loss);
    assert!((after.accuracy - h.epochs[2].test_acc).abs() < 1e-12, "the history's last test acc is the network's");
    assert!(train::train_ch6(&net, &train_iter, &test_iter, 0, 0.9, &Device::Cpu).is_err());
}

/// A stop token stops only the run that holds it (the old process-wide flag stopped whichever
/// run looked first), and a request is taken once.
#[test]
fn a_stop_token_stops_its_own_run_only() {
    let (a, b) = (tmpdir("stop-a"), tmpdir("stop-b"));
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::smoke() };
    let token = train::StopToken::new();
    token.stop();
    // Another run, with its own token, is not stopped by this request.
    let other = opts(cfg.clone(), &b, false).run().unwrap();
    assert_eq!(other.history.epochs.len(), 1);
    let stopped = Trainer { stop: token.clone(), ..opts(cfg, &a, false) }.run();
    assert!(matches!(stopped, Err(Error::Interrupted { epoch: 1, step: 0, epochs_done: 0 })), "{stopped:?}");
    assert!(!token.is_requested(), "the run took the request");
}

/// A parameter store whose lock another thread poisoned is a typed error saying so (before: a
/// "configuration" error), not a panic.
#[test]
fn a_poisoned_parameter_store_is_a_typed_error() {
    let dir = tmpdir("poisoned");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::lenet() };
    opts(cfg, &dir, false).run().unwrap();
    let (_, varmap) = alexnet_lab::ModelKind::LeNet.init(None, 0, &Device::Cpu).unwrap();
    let v = varmap.clone();
    let _ = std::thread::spawn(move || {
        let _guard = v.data().lock().unwrap();
        panic!("poisoning the lock on purpose");
    })
    .join();
    let (d, meta) = checkpoint::read_meta(&dir).unwrap();
    let e = checkpoint::load_weights(&d, &meta, &varmap, &Device::Cpu).unwrap_err();
    assert!(matches!(e, Error::LockPoisoned("parameter store")), "{e:?}");
    assert!(e.to_string().contains("restart the kernel"), "{e}");
}

/// The trainer without a run folder trains in memory: the same history as a run into a folder
/// (same seed, same recipe), nothing written; resuming without a folder is refused by name.
#[test]
fn a_trainer_without_a_run_folder_trains_in_memory() {
    hub_env();
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::lenet() };
    let in_memory = Trainer::new(cfg.clone()).run().unwrap();
    assert_eq!(in_memory.out, None);
    let dir = tmpdir("in-memory-twin");
    let folder = opts(cfg.clone(), &dir, false).run().unwrap();
    let accs = |h: &train::History| h.epochs.iter().map(|e| (e.train_loss, e.test_acc)).collect::<Vec<_>>();
    assert_eq!(accs(&in_memory.history), accs(&folder.history));
    assert!(dir.join(checkpoint::META_FILE).exists());
    let e = Trainer { resume: true, ..Trainer::new(cfg.clone()) }.run().unwrap_err().to_string();
    assert!(e.contains("resum") && e.contains("`out`"), "{e}");
    let p = Trainer::new(cfg).plan().unwrap();
    assert!(p.to_string().contains("in memory (no run folder)"), "{p}");
}

/// The model, input, epoch and device live once, in the config and the history; the file still
/// writes them as top-level keys for its readers, and a file whose keys disagree with its config
/// or history (edited by hand, damaged) is refused, naming the key.
#[test]
fn a_checkpoint_whose_top_level_keys_disagree_with_its_config_is_refused() {
    let dir = tmpdir("meta-keys");
    let cfg = TrainConfig { epochs: 1, limit: Some(64), test_limit: Some(32), ..TrainConfig::lenet() };
    opts(cfg, &dir, false).run().unwrap();
    let path = dir.join(checkpoint::META_FILE);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!((json["model"].as_str(), json["epoch"].as_u64()), (Some("lenet"), Some(1)));
    assert_eq!(json["input"], serde_json::json!([1, 28, 28]));
    assert_eq!(json["device"], json["history"]["device"]);
    let (_, meta) = checkpoint::read_meta(&dir).unwrap();
    assert_eq!((meta.epoch(), meta.input(), meta.device()), (1, [1, 28, 28], "cpu"));
    for (key, value) in [("epoch", serde_json::json!(2)), ("model", serde_json::json!("alexnet")), ("input", serde_json::json!([3, 28, 28]))] {
        let mut edited = json.clone();
        edited[key] = value;
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let e = checkpoint::load_model(&dir, &Device::Cpu).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(&format!("`{key}`")) && e.contains("edited or damaged"), "{key}: {e}");
    }
}
