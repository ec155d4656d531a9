//! d2l's `train_ch6` in Rust: SGD on cross-entropy, running train loss / accuracy over each
//! epoch, test accuracy by batched evaluation in eval mode, and examples/sec counted over
//! training steps only, printed the lecture's way:
//!
//! ```text
//! loss 0.331, train acc 0.878, test acc 0.883
//! 3941.8 examples/sec on cuda:0
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::Device;

use super::evaluate::{correct, evaluate};
use super::history::{CurvePoint, EpochMetrics, History};
use super::optim::Sgd;
use super::TrainConfig;
use crate::data::DataLoader;
use crate::nn::Sequential;
use crate::report::progress::bar;
use crate::sys::device::device_name;
use crate::sys::rng::mix;
use crate::{Error, Result};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks a running [`Fit::run`] to stop at the next step boundary (it then returns
/// [`Error::Interrupted`]; the checkpoint of the last complete epoch stays as it is). The CLI
/// calls this on Ctrl-C; a notebook or another thread may too. The request is consumed by the
/// `Fit::run` that sees it.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Where a run's lines go ("epoch 1/10: loss ...", "resuming from ..."): the library prints
/// only what its caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Log {
    #[default]
    Stdout,
    Stderr,
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

/// One `train_ch6`: a network, its data and recipe, and how to report.
pub struct Fit<'a> {
    pub net: &'a Sequential,
    pub train: &'a DataLoader,
    pub test: &'a DataLoader,
    pub config: &'a TrainConfig,
    pub device: &'a Device,
    /// Progress bars (on stderr, hidden when not a terminal).
    pub progress: bool,
    pub log: Log,
}

impl Fit<'_> {
    /// Runs the epochs `history.epochs.len()..config.epochs` of `train_ch6` with `opt`,
    /// calling `on_epoch` after each (e.g. to save a checkpoint). `history` holds the epochs
    /// already done.
    pub fn run(&self, opt: &mut Sgd, history: History, on_epoch: impl FnMut(&History, &Sgd) -> Result<()>) -> Result<History> {
        fit_epochs(self, opt, history, on_epoch)
    }
}

fn fit_epochs(
    fit: &Fit,
    opt: &mut Sgd,
    mut history: History,
    mut on_epoch: impl FnMut(&History, &Sgd) -> Result<()>,
) -> Result<History> {
    let Fit { net, train, test, config: cfg, device, progress, log } = *fit;
    crate::sys::malloc::keep_freed_memory();
    let start_epoch = history.epochs.len();
    history.device = device_name(device);
    let num_batches = train.num_batches();
    let mark = (num_batches / 5).max(1);
    let mut last_finite = f64::NAN;
    for epoch in start_epoch..cfg.epochs {
        let wall = Instant::now();
        let bar = bar(num_batches, progress, "train");
        bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
        let (mut loss_sum, mut right, mut n, mut secs) = (0.0, 0.0, 0usize, 0.0);
        let mut step_losses = Vec::with_capacity(num_batches);
        for (i, batch) in train.epoch(epoch, device).enumerate() {
            if STOP.swap(false, Ordering::SeqCst) {
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
            let mut step = || -> Result<(f64, f64)> {
                let logits = net.forward(&b.images, true)?;
                let loss = candle_nn::loss::cross_entropy(&logits, &b.labels)?;
                let grads = loss.backward()?;
                let l = loss.to_scalar::<f32>()? as f64;
                if !l.is_finite() {
                    return Ok((l, 0.0));
                }
                opt.step(&grads)?;
                Ok((l, correct(&logits, &b.labels)?))
            };
            let (l, c) = step().map_err(|e| e.on_device(&history.device, bs))?;
            secs += t.elapsed().as_secs_f64();
            if !l.is_finite() {
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
                if !progress && i + 1 < num_batches {
                    // Without a bar (notebooks, logs) a long epoch still shows it is moving.
                    log.line(&format!(
                        "  epoch {}/{} step {}/{}: loss {:.3}, train acc {:.3}, {:.1} examples/sec, lr {:.5}",
                        epoch + 1,
                        cfg.epochs,
                        i + 1,
                        num_batches,
                        loss_sum / n as f64,
                        right / n as f64,
                        n as f64 / secs,
                        lr
                    ));
                }
                history.curve.push(CurvePoint {
                    epoch: epoch as f64 + (i + 1) as f64 / num_batches as f64,
                    train_loss: Some(loss_sum / n as f64),
                    train_acc: Some(right / n as f64),
                    test_acc: None,
                });
            }
        }
        bar.finish_and_clear();
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
    }
    Ok(history)
}

