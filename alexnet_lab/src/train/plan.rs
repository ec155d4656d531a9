//! What a training cell is about to do, before it starts: load a finished run, resume one, or
//! train from scratch, and for how long on this machine (an estimate from a few steps measured
//! here, not a constant), with the terminal command as the faster alternative and how the crate
//! was built. Notebook 05 shows it before its training cell.

use std::path::PathBuf;

use super::bench::{self, Mode};
use super::fit::Trainer;
use super::TrainConfig;
use crate::data::{TEST_IMAGES, TRAIN_IMAGES};
use crate::report::progress::duration;
use crate::sys::build::{self, BuildInfo};
use crate::sys::device::device_name;
use crate::Result;

/// What [`Trainer::run`] will do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The folder holds a finished run: it is only loaded.
    Load,
    /// The folder holds a run stopped after `done` epochs: it continues from there.
    Resume { done: usize },
    /// Nothing to continue: a new run.
    Start,
}

/// The time a run will take, from a few training and evaluation steps measured here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Median seconds of a training step (after a warm-up step), on random images.
    pub step_seconds: f64,
    /// Median seconds of an evaluation batch.
    pub eval_batch_seconds: f64,
    /// Training steps left.
    pub steps: usize,
    /// Evaluation batches left (one pass over the test images per epoch).
    pub eval_batches: usize,
}

impl Estimate {
    pub fn train_seconds(&self) -> f64 {
        self.step_seconds * self.steps as f64
    }
    pub(crate) fn eval_seconds(&self) -> f64 {
        self.eval_batch_seconds * self.eval_batches as f64
    }
    pub fn total_seconds(&self) -> f64 {
        self.train_seconds() + self.eval_seconds()
    }
}

/// The plan of a run, shown before it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: TrainConfig,
    /// The run folder (`None`: a run in memory).
    pub out: Option<PathBuf>,
    pub device: String,
    pub action: Action,
    /// Epochs the run folder already holds.
    pub done: usize,
    /// None when there is nothing to train.
    pub estimate: Option<Estimate>,
    pub build: BuildInfo,
}

/// Training steps measured for an [`Estimate`] (after one warm-up step).
pub const MEASURED_STEPS: usize = 3;

impl Trainer {
    /// Looks at the run folder and, when there is training to do, times [`MEASURED_STEPS`]
    /// training steps and two evaluation batches of the run's model, batch size and image size
    /// on this device (seconds on a CPU at the lecture's sizes), to say how long
    /// [`Trainer::run`] will take. Errors as `run` would on a folder holding another model or
    /// recipe.
    pub fn plan(&self) -> Result<Plan> {
        plan(self)
    }
}

fn plan(opts: &Trainer) -> Result<Plan> {
    let cfg = &opts.config;
    cfg.validate()?;
    let existing = if opts.resume { opts.existing_run()? } else { None };
    let done = existing.as_ref().map_or(0, |(_, meta)| meta.epoch());
    let action = match done {
        0 => Action::Start,
        d if d >= cfg.epochs => Action::Load,
        d => Action::Resume { done: d },
    };
    let estimate = if action == Action::Load {
        None
    } else {
        let train_images = cfg.limit.map_or(TRAIN_IMAGES, |l| l.min(TRAIN_IMAGES));
        let test_images = cfg.test_limit.map_or(TEST_IMAGES, |l| l.min(TEST_IMAGES));
        let epochs = cfg.epochs - done;
        let bench = |mode, repeats| {
            bench::Bench { repeats, kernels: opts.kernels, ..bench::Bench::new(cfg.model, mode, cfg.batch_size, cfg.image_size) }.run(&opts.device)
        };
        let step = bench(Mode::Train, MEASURED_STEPS)?;
        let eval = bench(Mode::Forward, 2)?;
        Some(Estimate {
            step_seconds: step.median_seconds,
            eval_batch_seconds: eval.median_seconds,
            steps: epochs * train_images.div_ceil(cfg.batch_size),
            eval_batches: epochs * test_images.div_ceil(cfg.batch_size),
        })
    };
    Ok(Plan { config: cfg.clone(), out: opts.out.clone(), device: device_name(&opts.device), action, done, estimate, build: build::info() })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        let out = self.out.as_ref().map_or_else(|| "memory".to_string(), |o| o.display().to_string());
        match (&self.action, &self.estimate) {
            (Action::Load, _) | (_, None) => {
                return write!(
                    f,
                    "{out} holds a finished run of profile {} ({} of {} epochs): training only loads it.\n{}",
                    c.profile, self.done, c.epochs, self.build
                )
            }
            (Action::Resume { done }, Some(_)) => {
                write!(f, "{out} holds {done} of {} epochs of profile {}: training resumes after epoch {done}", c.epochs, c.profile)?
            }
            (Action::Start, Some(_)) => match self.out {
                Some(_) => write!(f, "no run in {out} yet: training starts profile {} from scratch", c.profile)?,
                None => write!(f, "training starts profile {} from scratch, in memory (no run folder)", c.profile)?,
            },
        }
        let Some(e) = self.estimate else { return Ok(()) };
        writeln!(
            f,
            " ({} steps of batch {} at {s}x{s} on {}, and a test pass per epoch).",
            e.steps,
            c.batch_size,
            self.device,
            s = c.image_size
        )?;
        writeln!(
            f,
            "measured here: {:.3} s per training step (median of {MEASURED_STEPS} after a warm-up, random images), {:.3} s per \
             test batch: about {} of training and {} of testing (data loading not counted).",
            e.step_seconds,
            e.eval_batch_seconds,
            duration(e.train_seconds()),
            duration(e.eval_seconds())
        )?;
        if *c == TrainConfig::for_profile(c.profile) && self.out.is_some() {
            writeln!(
                f,
                "faster in a terminal (release build), from this folder: cargo run --release --manifest-path ../Cargo.toml -- \
                 train --profile {} --out {out}; run this cell again afterwards and it loads the finished run.",
                c.profile
            )?;
        }
        write!(f, "{}", self.build)
    }
}

impl Plan {
    pub fn evcxr_display(&self) {
        crate::report::display::text(&self.to_string());
    }
}
