//! A training run end to end: data, model (fresh or resumed), `train_ch6`, and after every
//! epoch a checkpoint plus `metrics.csv`, `curve.csv`, `curve.svg` in the run folder, which a
//! lock keeps to one run at a time.

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::checkpoint::{self, CheckpointMeta};
use super::fit::{Fit, Log, StopToken};
use super::history::{write_run_files, History};
use super::optim::{named_vars, Sgd};
use super::{LrSchedule, TrainConfig};
use crate::data::Source;
use crate::kernels::Kernels;
use crate::sys::device::device_name;
use crate::{Error, Result};

/// What a run needs beyond its [`TrainConfig`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: TrainConfig,
    pub device: Device,
    pub source: Source,
    /// Channels made of an image folder's photos (1 or 3; `None`: 3 when any stores colour).
    /// Fashion-MNIST is grey.
    pub channels: Option<usize>,
    /// The run folder: checkpoint, metrics, curve.
    pub out: PathBuf,
    /// Continue from the checkpoint in `out` (from its last complete epoch).
    pub resume: bool,
    /// Progress bars while training and evaluating.
    pub progress: bool,
    /// Where the run's lines go.
    pub log: Log,
    /// Stops the run at the next step boundary when asked (the last complete epoch's
    /// checkpoint stays).
    pub stop: StopToken,
    /// The implementation of the network's layers and of SGD's update (the lab's by default).
    pub kernels: Kernels,
}

impl RunOptions {
    /// A new run of `config` into `out` on the CPU, data from the hub, no progress bars, lines
    /// on stdout; set the other fields as needed.
    pub fn new(config: TrainConfig, out: impl Into<PathBuf>) -> Self {
        Self { config, device: Device::Cpu, source: Source::hub(), channels: None, out: out.into(), resume: false, progress: false, log: Log::Stdout, stop: StopToken::new(), kernels: Kernels::Lab }
    }
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub history: History,
    pub out: PathBuf,
    pub resumed_from: usize,
}

/// Loads the data, builds (or resumes) the model and trains it, saving a checkpoint, the
/// metrics (CSV) and the curve (SVG) into the run folder after every epoch.
pub fn run(opts: &RunOptions) -> Result<RunSummary> {
    opts.config.validate()?;
    let _lock = lock_run_folder(&opts.out)?;
    // A run killed while saving left a partial tensor file (up to 170 MB): gone before it starts.
    checkpoint::remove_interrupted_writes(&opts.out);
    let device = &opts.device;
    let log = opts.log;
    let (train_data, test_data) = opts.source.splits(opts.channels)?;
    // The model takes the data's channels and classes.
    let cfg = &opts.config.clone().fit_to(&*train_data);
    cfg.validate()?;
    let input = cfg.input();
    crate::nn::check_fits(cfg.model.name(), &input, &cfg.specs()?, 3, cfg.model.default_input()[1], device)?;
    let class_names = train_data.class_names().to_vec();
    let (train_loader, test_loader) = cfg.loaders_over(train_data, test_data)?;

    let (net, varmap) = cfg.model.init_for(Some(input), cfg.num_classes, cfg.seed, device)?;
    let net = net.with_kernels(opts.kernels);
    let mut opt = Sgd::new(named_vars(&varmap), cfg.sgd())?.with_kernels(opts.kernels);
    let mut history = History::default();
    let loaded = if opts.resume { existing_run_of(opts, cfg)? } else { None };
    if opts.resume && loaded.is_none() {
        log.line(&format!("no checkpoint in {} yet: starting a new run", opts.out.display()));
    }
    let existing = loaded.is_some();
    let mut finished = false;
    if let Some((dir, meta)) = loaded {
        finished = meta.epoch >= cfg.epochs;
        if finished {
            log.line(&format!(
                "the run in {} has already done {} of {} epochs: nothing to train (a config with more epochs trains more)",
                dir.display(),
                meta.epoch,
                cfg.epochs
            ));
        }
        checkpoint::load_weights(&dir, &meta, &varmap, device)?;
        let state = checkpoint::load_optimizer(&dir, &meta, device)?;
        if meta.optimizer.is_some() || !state.is_empty() {
            let file = meta.optimizer.as_deref().unwrap_or("optimizer.safetensors");
            opt.load_state(&state, &dir.join(file).display().to_string())?;
        }
        history = meta.history;
        if !finished {
            log.line(&format!("resuming from {} after epoch {}", dir.display(), history.epochs.len()));
        }
    }
    let resumed_from = history.epochs.len();
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(format!("cannot create {}", opts.out.display()), e))?;
    // metrics.csv and the curve follow the checkpoint, which is committed first: a run killed
    // between the two left them an epoch behind. Written again from the checkpoint's history
    // (only then, so a finished run in a read-only folder still loads).
    let behind = || {
        crate::report::table::read_csv(opts.out.join("metrics.csv")).map_or(true, |m| m.height() != history.epochs.len())
            || !opts.out.join("curve.svg").exists()
    };
    if existing && behind() {
        write_run_files(&opts.out, &history)?;
    }
    if !finished {
        log.line(&format!(
            "training {:?} on {} ({} train / {} test examples, {}x{}, batch {}, lr {}{}, {} epoch{}) on {}",
            cfg.model,
            opts.source,
            train_loader.len(),
            test_loader.len(),
            cfg.image_size,
            cfg.image_size,
            cfg.batch_size,
            crate::error::num(cfg.lr),
            match (cfg.schedule, cfg.warmup_epochs > 0.0) {
                (LrSchedule::Constant, false) => String::new(),
                (s, _) => format!(" {s} after {} warm-up epochs", crate::error::num(cfg.warmup_epochs)),
            },
            cfg.epochs,
            if cfg.epochs == 1 { "" } else { "s" },
            device_name(device)
        ));
    }
    let out = opts.out.clone();
    let fit = Fit { net: &net, train: &train_loader, test: &test_loader, config: cfg, device, progress: opts.progress, log, stop: opts.stop.clone() };
    let history = fit.run(&mut opt, history, |h, opt| {
        let state = opt.state();
        let mut meta = CheckpointMeta::new(cfg.model, input, cfg.clone(), h.clone(), !state.is_empty());
        meta.class_names = Some(class_names.clone());
        checkpoint::save(&out, &varmap, &state, &meta)?;
        write_run_files(&out, h)
    })?;
    Ok(RunSummary { history, out: opts.out.clone(), resumed_from })
}

/// The checkpoint in the run folder of `opts`, if there is one, after checking that it holds
/// the model, input and recipe of `opts.config` (resuming another would mix two runs).
pub fn existing_run(opts: &RunOptions) -> Result<Option<(PathBuf, CheckpointMeta)>> {
    existing_run_of(opts, &opts.config)
}

/// [`existing_run`] against `cfg` (the run's recipe fitted to its data).
fn existing_run_of(opts: &RunOptions, cfg: &TrainConfig) -> Result<Option<(PathBuf, CheckpointMeta)>> {
    if !opts.out.join(checkpoint::META_FILE).exists() {
        return Ok(None);
    }
    let (dir, meta) = checkpoint::read_meta(&opts.out)?;
    let input = cfg.input();
    if meta.model != cfg.model || meta.input != input {
        return Err(Error::CheckpointMismatch(format!(
            "the checkpoint in {} is {:?} with input {:?}, this run asks for {:?} with {:?}: use the same \
             model and image size, or another run folder",
            dir.display(),
            meta.model,
            meta.input,
            cfg.model,
            input
        )));
    }
    let changed = recipe_changes(&meta.config, cfg);
    if !changed.is_empty() {
        return Err(Error::CheckpointMismatch(format!(
            "the run in {} was trained with another recipe ({}): resuming would mix two recipes. Use the \
             run's own settings (its checkpoint.json), or another run folder for a new run",
            dir.display(),
            changed.join(", ")
        )));
    }
    Ok(Some((dir, meta)))
}

/// The lock file that keeps two runs from writing into one folder.
pub const LOCK_FILE: &str = ".lock";

/// Takes the run folder's lock (an advisory `flock` on `DIR/.lock`, released when the returned
/// file is dropped or the process ends, `kill -9` included), or says who holds it.
pub fn lock_run_folder(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let f = crate::sys::fs::open_lock_file(&path)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::invalid("out", format!(
            "another training run is writing into {} (it holds {}): wait for it to finish, or use another run folder",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("cannot lock {}", path.display()), e)),
    }
}

/// What differs between the recipe a run was trained with and `now` (the number of epochs may
/// grow under a constant learning rate; everything else that shapes the training must stay), as
/// `name was -> now` strings.
pub fn recipe_changes(was: &TrainConfig, now: &TrainConfig) -> Vec<String> {
    let mut out = vec![];
    macro_rules! cmp {
        ($($f:ident),*) => { $( if was.$f != now.$f { out.push(format!("{} {:?} -> {:?}", stringify!($f), was.$f, now.$f)); } )* };
    }
    cmp!(model, batch_size, lr, momentum, weight_decay, image_size, limit, test_limit, seed, resize, augment, schedule, warmup_epochs, channels, num_classes);
    // A schedule other than constant is laid out over the run's epochs: more epochs would change it.
    if was.schedule != LrSchedule::Constant && was.epochs != now.epochs {
        out.push(format!("epochs {} -> {} (the {} schedule spans the run's epochs)", was.epochs, now.epochs, was.schedule));
    }
    out
}

