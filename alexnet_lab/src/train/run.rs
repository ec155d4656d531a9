//! [`Trainer::run`]: a training run end to end: data, model (fresh or resumed), the training
//! loop, and after every epoch a checkpoint plus `metrics.csv`, `curve.csv`, `curve.svg` in the
//! run folder, which a lock keeps to one run at a time.

use std::path::{Path, PathBuf};

use super::checkpoint::{self, CheckpointMeta};
use super::fit::Trainer;
use super::history::{write_run_files, History};
use super::optim::{named_vars, Sgd};
use super::{LrSchedule, TrainConfig};
use crate::sys::device::device_name;
use crate::{Error, Result};

/// The result of [`Trainer::run`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub history: History,
    /// The run folder (`None`: trained in memory).
    pub out: Option<PathBuf>,
    /// Epochs the run folder held when the run started.
    pub resumed_from: usize,
}

impl Trainer {
    /// Loads the data, builds (or resumes) the model and trains it; with a run folder, saves a
    /// checkpoint, the metrics (CSV) and the curve (SVG) into it after every epoch.
    pub fn run(&self) -> Result<RunSummary> {
        run(self)
    }

    /// The checkpoint in the run folder, if there is one, after checking that it holds the
    /// model, input and recipe of the config (resuming another would mix two runs).
    pub fn existing_run(&self) -> Result<Option<(PathBuf, CheckpointMeta)>> {
        existing_run_of(self, &self.config)
    }
}

fn run(opts: &Trainer) -> Result<RunSummary> {
    opts.config.validate()?;
    if opts.resume && opts.out.is_none() {
        return Err(Error::invalid("resume", "resuming needs the run folder to resume from: set `out`"));
    }
    let _lock = opts.out.as_deref().map(lock_run_folder).transpose()?;
    // A run killed while saving left a partial tensor file (up to 170 MB): gone before it starts.
    if let Some(out) = &opts.out {
        checkpoint::remove_interrupted_writes(out);
    }
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

    let (net, varmap) = cfg.model.init_for(input, cfg.num_classes, cfg.seed, device)?;
    let net = net.with_kernels(opts.kernels);
    let mut opt = Sgd::new(named_vars(&varmap), cfg.sgd())?.with_kernels(opts.kernels);
    let mut history = History::default();
    let loaded = if opts.resume { existing_run_of(opts, cfg)? } else { None };
    if let (true, None, Some(out)) = (opts.resume, &loaded, &opts.out) {
        log.line(&format!("no checkpoint in {} yet: starting a new run", out.display()));
    }
    let existing = loaded.is_some();
    let mut finished = false;
    if let Some((dir, meta)) = loaded {
        finished = meta.epoch() >= cfg.epochs;
        if finished {
            log.line(&format!(
                "the run in {} has already done {} of {} epochs: nothing to train (a config with more epochs trains more)",
                dir.display(),
                meta.epoch(),
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
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).map_err(|e| Error::io(format!("cannot create {}", out.display()), e))?;
        // metrics.csv and the curve follow the checkpoint, which is committed first: a run killed
        // between the two left them an epoch behind. Written again from the checkpoint's history
        // (only then, so a finished run in a read-only folder still loads).
        let behind = || {
            crate::report::table::read_csv(out.join("metrics.csv")).map_or(true, |m| m.height() != history.epochs.len())
                || !out.join("curve.svg").exists()
        };
        if existing && behind() {
            write_run_files(out, &history)?;
        }
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
    // The loop runs the recipe fitted to the data.
    let trainer = Trainer { config: cfg.clone(), ..opts.clone() };
    let history = trainer.fit_with(&net, &mut opt, &train_loader, &test_loader, history, |h, opt| {
        let Some(out) = &opts.out else { return Ok(()) };
        let state = opt.state();
        let meta = CheckpointMeta::new(cfg.clone(), h.clone(), class_names.clone(), !state.is_empty());
        checkpoint::save(out, &varmap, &state, &meta)?;
        write_run_files(out, h)
    })?;
    Ok(RunSummary { history, out: opts.out.clone(), resumed_from })
}

/// [`Trainer::existing_run`] against `cfg` (the run's recipe fitted to its data).
fn existing_run_of(opts: &Trainer, cfg: &TrainConfig) -> Result<Option<(PathBuf, CheckpointMeta)>> {
    let Some(out) = opts.out.as_deref().filter(|o| o.join(checkpoint::META_FILE).exists()) else {
        return Ok(None);
    };
    let (dir, meta) = checkpoint::read_meta(out)?;
    let input = cfg.input();
    if meta.model() != cfg.model || meta.input() != input {
        return Err(Error::CheckpointMismatch(format!(
            "the checkpoint in {} is {:?} with input {:?}, this run asks for {:?} with {:?}: use the same \
             model and image size, or another run folder",
            dir.display(),
            meta.model(),
            meta.input(),
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
pub(crate) const LOCK_FILE: &str = ".lock";

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
pub(crate) fn recipe_changes(was: &TrainConfig, now: &TrainConfig) -> Vec<String> {
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

