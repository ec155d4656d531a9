//! d2l's `train_ch6` in Rust: SGD on cross-entropy, running train loss / accuracy over each
//! epoch, test accuracy by batched evaluation in eval mode, and examples/sec counted over
//! training steps only, printed the lecture's way:
//!
//! ```text
//! loss 0.331, train acc 0.878, test acc 0.883
//! 3941.8 examples/sec on cuda:0
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};

use super::evaluate::{correct, evaluate};
use super::history::{CurvePoint, EpochMetrics, History};
use super::optim::{forward_loss, gradients, Sgd};
use super::TrainConfig;
use crate::data::{DataLoader, Source};
use crate::kernels::{GradSink, Kernels};
use crate::nn::Sequential;
use crate::report::progress::{bar, duration};
use crate::sys::device::device_name;
use crate::sys::failpoint;
use crate::sys::rng::mix;
use crate::{Error, Result};

/// Asks a running training to stop at the next step boundary: it then returns
/// [`Error::Interrupted`], and the checkpoint of the last complete epoch stays as it is. Clones
/// share one flag: keep a clone, hand one to the run ([`Trainer::stop`]), call
/// [`StopToken::stop`] from anywhere (the CLI's Ctrl-C handler, another thread). A run consumes
/// the request it sees, so the token can be used again.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run holding a clone of this token to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for and not yet taken.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Takes the request: true once per [`StopToken::stop`].
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

/// Where a run's lines go ("epoch 1/10: loss ...", "resuming from ..."): the library prints
/// only what its caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Log {
    Stdout,
    Stderr,
    #[default]
    Quiet,
}

impl Log {
    pub fn line(&self, s: &str) {
        match self {
            Log::Stdout => println!("{s}"),
            Log::Stderr => eprintln!("{s}"),
            Log::Quiet => {}
        }
    }
}

/// d2l's `train_ch6(net, train_iter, test_iter, num_epochs, lr, device)`: `num_epochs` epochs of
/// plain SGD (no momentum, no weight decay) at a constant `lr` on cross-entropy, the network
/// in train mode (dropout on) for the steps and in eval mode for the test accuracy after each
/// epoch; progress bars, and one line per epoch on stdout, as d2l's prints (this wrapper is
/// the one place the library prints without being asked: d2l's signature has no reporter).
/// In memory: nothing is written. The network keeps what it learnt; the returned [`History`]
/// shows as the lecture's curve in a notebook. It is [`Trainer::fit`] with d2l's recipe.
///
/// d2l initialises the weights inside `train_ch6`; here the network comes initialised
/// (`ModelKind::init`: the same Xavier init, seeded).
///
/// ```no_run
/// use alexnet_lab::{candle::Device, data::load_data_fashion_mnist, train::train_ch6, ModelKind};
/// let (train_iter, test_iter) = load_data_fashion_mnist(128, Some(96))?;
/// let (net, _) = ModelKind::AlexNet.init(Some([1, 96, 96]), 0, &Device::Cpu)?;
/// let history = train_ch6(&net, &train_iter, &test_iter, 1, 0.01, &Device::Cpu)?;
/// println!("{}", history.final_lines());
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub fn train_ch6(
    net: &Sequential,
    train_iter: &DataLoader,
    test_iter: &DataLoader,
    num_epochs: usize,
    lr: f64,
    device: &Device,
) -> Result<History> {
    let [channels, size, _] = net.input_dims();
    // The recipe d2l's arguments spell (the seed is the loader's, for dropout's masks).
    let config = TrainConfig {
        epochs: num_epochs,
        lr,
        momentum: 0.0,
        weight_decay: 0.0,
        batch_size: train_iter.config().batch_size,
        image_size: size,
        channels,
        seed: train_iter.config().seed,
        ..TrainConfig::d2l()
    };
    let trainer = Trainer { device: device.clone(), kernels: net.kernels(), progress: true, log: Log::Stdout, ..Trainer::new(config) };
    trainer.fit(net, train_iter, test_iter)
}

/// The lab's one trainer (d2l's `train_ch6` with every choice open, burn's `Learner` in
/// spirit): a recipe ([`TrainConfig`]), a device, the kernels, how to report (progress bars,
/// lines: nothing unless asked), and a stop token; optionally a run folder for checkpoints.
///
/// - [`Trainer::run`]: the whole run: loads the data of `source`, builds the config's model
///   (fresh, or resumed from the checkpoint in `out` when `resume`), trains, and with a run
///   folder saves a checkpoint, `metrics.csv` and the curve after every epoch. What the CLI's
///   `train`, the notebooks and the exercises call.
/// - [`Trainer::fit`]: a network you built over loaders you made, in memory (`source`, `out`
///   and `resume` are `run`'s); [`Trainer::fit_with`] the same with your optimiser, a history
///   to continue and a callback after each epoch.
/// - [`Trainer::plan`]: what `run` will do and for how long, before it starts.
#[derive(Debug, Clone)]
pub struct Trainer {
    pub config: TrainConfig,
    pub device: Device,
    /// The implementation of the network's layers and of SGD's update (the lab's by default;
    /// in [`Trainer::fit`] the network you pass runs its own, `Sequential::with_kernels`).
    pub kernels: Kernels,
    /// Progress bars while training and evaluating (on stderr, hidden when not a terminal).
    pub progress: bool,
    /// Where the run's lines go ("epoch 1/10: loss ...", "resuming from ..."); nowhere by default.
    pub log: Log,
    /// Stops the run at the next step boundary when asked (the last complete epoch's
    /// checkpoint stays).
    pub stop: StopToken,
    /// The data [`Trainer::run`] loads.
    pub source: Source,
    /// Channels made of an image folder's photos (1 or 3; `None`: 3 when any stores colour).
    /// Fashion-MNIST is grey.
    pub channels: Option<usize>,
    /// The run folder of [`Trainer::run`]: checkpoint, metrics, curve (`None`: in memory).
    pub out: Option<PathBuf>,
    /// [`Trainer::run`] continues from the checkpoint in `out` (from its last complete epoch).
    pub resume: bool,
}

impl Trainer {
    /// A trainer of `config` on the CPU with the lab's kernels, data from the hub, in memory,
    /// silent (no bars, no lines); set the other fields as needed.
    pub fn new(config: TrainConfig) -> Self {
        Self {
            config,
            device: Device::Cpu,
            kernels: Kernels::Lab,
            progress: false,
            log: Log::Quiet,
            stop: StopToken::new(),
            source: Source::hub(),
            channels: None,
            out: None,
            resume: false,
        }
    }

    /// The same trainer writing its run into `out` (checkpoints after every epoch).
    pub fn into_folder(self, out: impl Into<PathBuf>) -> Self {
        Self { out: Some(out.into()), ..self }
    }

    /// Trains `net` (built, e.g. by `ModelKind::init`) for the config's epochs with SGD of the
    /// config's recipe (lr, momentum, weight decay, schedule, seed of dropout's masks) over
    /// `train`, testing on `test` after each epoch, in memory. The config's model, image size
    /// and data fields are [`Trainer::run`]'s: here the network and the loaders come built.
    pub fn fit(&self, net: &Sequential, train: &DataLoader, test: &DataLoader) -> Result<History> {
        self.config.validate_recipe()?;
        let mut opt = Sgd::new(net.vars()?, self.config.sgd())?.with_kernels(self.kernels);
        self.fit_with(net, &mut opt, train, test, History::default(), |_, _| Ok(()))
    }

    /// Runs the epochs `history.epochs.len()..config.epochs` with `opt`, calling `on_epoch`
    /// after each (e.g. to save a checkpoint). `history` holds the epochs already done.
    pub fn fit_with(
        &self,
        net: &Sequential,
        opt: &mut Sgd,
        train: &DataLoader,
        test: &DataLoader,
        history: History,
        on_epoch: impl FnMut(&History, &Sgd) -> Result<()>,
    ) -> Result<History> {
        fit_epochs(self, net, opt, train, test, history, on_epoch)
    }
}

/// One training step, as the trainer takes it and the benchmark times it: the forward pass in
/// train mode, cross-entropy, backward ([`super::loss_and_gradients`]'s halves), and the SGD
/// update. A loss that is not finite or above `limit` (a run diverging) ends the step before
/// the backward pass: nothing is committed. With `phases`, the device is synchronised after
/// the backward pass and after the update, and the three phases' seconds are added to it.
pub(crate) fn sgd_step(net: &Sequential, opt: &mut Sgd, images: &Tensor, labels: &Tensor, limit: f64, phases: Option<&mut [f64; 3]>) -> Result<Step> {
    let t0 = Instant::now();
    let sink = GradSink::new();
    let (logits, loss) = forward_loss(net, images, labels, &sink)?;
    let value = loss.to_scalar::<f32>()? as f64;
    if !value.is_finite() || value > limit {
        return Ok(Step { loss: value, correct: 0.0 });
    }
    let t1 = Instant::now();
    let grads = gradients(&loss, &sink)?;
    if phases.is_some() {
        images.device().synchronize()?;
    }
    let t2 = Instant::now();
    opt.step(&grads)?;
    if let Some(p) = phases {
        images.device().synchronize()?;
        p[0] += (t1 - t0).as_secs_f64();
        p[1] += (t2 - t1).as_secs_f64();
        p[2] += t2.elapsed().as_secs_f64();
    }
    Ok(Step { loss: value, correct: correct(&logits, labels)? })
}

/// What [`sgd_step`] returns: the batch's mean loss and how many of its examples were right.
pub(crate) struct Step {
    pub loss: f64,
    pub correct: f64,
}

fn fit_epochs(
    trainer: &Trainer,
    net: &Sequential,
    opt: &mut Sgd,
    train: &DataLoader,
    test: &DataLoader,
    mut history: History,
    mut on_epoch: impl FnMut(&History, &Sgd) -> Result<()>,
) -> Result<History> {
    let Trainer { config: ref cfg, ref device, progress, log, ref stop, .. } = *trainer;
    let start_epoch = history.epochs.len();
    history.device = device_name(device);
    let num_batches = train.num_batches();
    let mark = (num_batches / 5).max(1);
    let mut last_finite = f64::NAN;
    // A loss this far above chance (ln of the number of classes) is a run blowing up, even while
    // it stays finite (measured: lr 1e8 gave a finite 2.3e8 and weights full of NaN).
    let chance = (net.num_classes().max(2) as f64).ln();
    let step_limit = 100.0 * chance;
    let epoch_limit = 3.0 * chance;
    for epoch in start_epoch..cfg.epochs {
        let wall = Instant::now();
        let bar = bar(num_batches, progress, "train");
        bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
        // Without a visible bar (notebooks, output to a file or a job log: indicatif hides it
        // when stderr is no terminal) step lines show that a long epoch is moving.
        let lines = bar.is_hidden();
        let (mut loss_sum, mut right, mut n, mut secs) = (0.0, 0.0, 0usize, 0.0);
        let mut step_losses = Vec::with_capacity(num_batches);
        // The crash and Ctrl-C tests act at these points (sys::failpoint); a no-op otherwise.
        let asked = || stop.is_requested();
        failpoint::at(|| format!("start-epoch-{}", epoch + 1), asked);
        for (i, batch) in train.epoch(epoch, device).enumerate() {
            if stop.take() {
                bar.abandon();
                return Err(Error::Interrupted { epoch: epoch + 1, step: i, epochs_done: epoch });
            }
            let b = batch?;
            let bs = b.indices.len();
            // Dropout's masks depend only on (seed, epoch, step): the same seed gives the same
            // run, and a resumed run continues exactly as an uninterrupted one.
            net.set_dropout_seed(mix(cfg.seed, epoch as u64, i as u64));
            let lr = cfg.lr_at(epoch, i, num_batches);
            opt.set_lr(lr);
            let t = Instant::now();
            let Step { loss: l, correct: c } =
                sgd_step(net, opt, &b.images, &b.labels, step_limit, None).map_err(|e| e.on_device(&history.device, bs))?;
            secs += t.elapsed().as_secs_f64();
            if !l.is_finite() || l > step_limit {
                bar.abandon();
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    step: i + 1,
                    loss: l,
                    last_finite,
                    lr,
                    suggested: lr / 10.0,
                });
            }
            last_finite = l;
            step_losses.push(l);
            loss_sum += l * bs as f64;
            right += c;
            n += bs;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.3} acc {:.3} {:.0} ex/s",
                loss_sum / n as f64,
                right / n as f64,
                n as f64 / secs
            ));
            if (i + 1) % mark == 0 || i + 1 == num_batches {
                if lines && i + 1 < num_batches {
                    // The rest of the run at this epoch's pace so far (steps with their data
                    // loading; the test passes not counted).
                    let per_step = wall.elapsed().as_secs_f64() / (i + 1) as f64;
                    let left = (num_batches - i - 1) + (cfg.epochs - epoch - 1) * num_batches;
                    log.line(&format!(
                        "  epoch {}/{} step {}/{}: loss {:.3}, train acc {:.3}, {:.1} examples/sec, lr {:.5}, {} of training left",
                        epoch + 1,
                        cfg.epochs,
                        i + 1,
                        num_batches,
                        loss_sum / n as f64,
                        right / n as f64,
                        n as f64 / secs,
                        lr,
                        duration(per_step * left as f64)
                    ));
                }
                history.curve.push(CurvePoint {
                    epoch: epoch as f64 + (i + 1) as f64 / num_batches as f64,
                    train_loss: Some(loss_sum / n as f64),
                    train_acc: Some(right / n as f64),
                    test_acc: None,
                });
            }
            failpoint::at(|| format!("after-step-{}-{}", epoch + 1, i + 1), asked);
        }
        bar.finish_and_clear();
        // Nothing diverged is committed: weights and momentum finite, the epoch's loss not far
        // above chance; else the run ends here and the last good checkpoint stays.
        let mean = loss_sum / n.max(1) as f64;
        let broken = opt.first_non_finite()?.map(|t| format!("`{t}` holds NaN or infinite values"));
        let broken = broken.or_else(|| (mean > epoch_limit).then(|| format!("the epoch's mean loss is {:.4}, over 3x chance ({chance:.4})", mean)));
        if let Some(why) = broken {
            let lr = cfg.lr_at(epoch, num_batches.saturating_sub(1), num_batches);
            return Err(Error::DivergedWeights { epoch: epoch + 1, step: num_batches, why, lr: cfg.lr, suggested: cfg.lr / 10.0, last_lr: lr });
        }
        failpoint::at(|| format!("evaluate-epoch-{}", epoch + 1), asked);
        let eval = evaluate(net, test, device, progress)?;
        history.curve.push(CurvePoint {
            epoch: (epoch + 1) as f64,
            train_loss: None,
            train_acc: None,
            test_acc: Some(eval.accuracy),
        });
        history.epochs.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / n as f64,
            train_acc: right / n as f64,
            test_acc: eval.accuracy,
            examples: n,
            train_seconds: secs,
            examples_per_sec: n as f64 / secs,
            wall_seconds: wall.elapsed().as_secs_f64(),
            step_losses,
        });
        let Some(m) = history.epochs.last() else { continue };
        log.line(&format!(
            "epoch {}/{}: loss {:.3}, train acc {:.3}, test acc {:.3}, {:.1} examples/sec ({:.0} s)",
            m.epoch, cfg.epochs, m.train_loss, m.train_acc, m.test_acc, m.examples_per_sec, m.wall_seconds
        ));
        on_epoch(&history, opt)?;
        // A stop asked for during the evaluation or the save: the epoch is saved, then it stops
        // (also after the last epoch: the caller learns that it was asked to stop).
        if stop.take() {
            return Err(Error::Interrupted { epoch: epoch + 1, step: num_batches, epochs_done: epoch + 1 });
        }
    }
    Ok(history)
}

