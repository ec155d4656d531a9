//! The lab's error type: every error a user's input can cause names the problem and the fix.


#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value that cannot work: `why` says what is wrong and what would work.
    /// `setting` names the config field to change when one field is to blame (`batch_size`,
    /// `lr`, `epochs`, ...; [`Error::invalid`]): the `alexnet-lab` binary adds the flag that sets
    /// it (`--batch-size`), a notebook user sets the field. `None` when no single field is
    /// (an unknown model name, two runs on one folder; [`Error::config`]).
    #[error("invalid configuration: {why}")]
    Config { setting: Option<&'static str>, why: String },
    /// A tensor or layer shape that does not fit the model.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Input data that is missing or malformed.
    #[error("data error: {0}")]
    Data(String),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged: the loss became {loss} at epoch {epoch}, step {step} (last finite loss {last_finite:.4}); \
         the learning rate ({}) is probably too high: try a learning rate of {}. The last good checkpoint is untouched",
        num(*lr),
        num(*suggested)
    )]
    Diverged { epoch: usize, step: usize, loss: f64, last_finite: f64, lr: f64, suggested: f64 },
    /// At the end of an epoch, before its checkpoint: the weights or momentum are no longer
    /// finite, or the epoch's loss is far above chance (nothing was committed).
    #[error(
        "training diverged in epoch {epoch} (checked after its step {step}, before saving): {why}; the learning rate \
         ({}, {} at that step) is probably too high: try a learning rate of {}. Nothing of this epoch was saved; the last good \
         checkpoint is untouched",
        num(*lr),
        num(*last_lr),
        num(*suggested)
    )]
    DivergedWeights { epoch: usize, step: usize, why: String, lr: f64, last_lr: f64, suggested: f64 },
    /// A stop was requested (a [`crate::train::StopToken`], Ctrl-C in the CLI) during epoch
    /// `epoch`, before its step `step + 1`; the checkpoint of the last complete epoch stays.
    #[error("interrupted in epoch {epoch} after {step} steps; the checkpoint of the last complete epoch ({epochs_done}) is kept")]
    Interrupted { epoch: usize, step: usize, epochs_done: usize },
    /// An allocation failed on the device.
    #[error(
        "out of memory on {device} at batch size {batch_size}: {detail}. Try a smaller batch size, e.g. {smaller}"
    )]
    OutOfMemory { device: String, batch_size: usize, smaller: usize, detail: String },
    /// A CPU step refused before it ran: its predicted memory, with the margin, is over the
    /// memory budget (nothing was allocated; the machine never came near swapping).
    #[error("refused before running batch size {batch_size} on {device}: {detail}. Try a smaller batch size, e.g. {smaller}")]
    OverBudget { device: String, batch_size: usize, smaller: usize, detail: String },
    /// A file operation failed. The io error is in the message, and deliberately not the
    /// error's `source()`: every caller prints this error alone (`{}`; lists of damaged files,
    /// the CLI's one line), where a `source` would be lost, and `{:#}` chains would print it
    /// twice. Code that needs the io error matches on `io` (checkpoint.rs does, for NotFound).
    #[error("{context}: {io}")]
    Io { context: String, io: std::io::Error },
    /// A lock guarding shared state (e.g. the parameter store) is poisoned: another thread
    /// panicked while holding it.
    #[error("the {0} lock is poisoned (another thread panicked while holding it): restart the process (in a notebook, restart the kernel)")]
    LockPoisoned(&'static str),
    /// Drawing a plot or encoding a picture failed.
    #[error("plotting failed: {0}")]
    Plot(String),
    /// A checkpoint does not fit what it is used with: another model, input size, recipe or
    /// set of classes.
    #[error("checkpoint mismatch: {0}")]
    CheckpointMismatch(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

/// Why a layer cannot take the shape it is given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layer {index} ({layer}) cannot take input {got:?}: {why}")]
pub struct ShapeError {
    pub index: usize,
    pub layer: String,
    pub got: Vec<usize>,
    pub why: String,
}

/// The lab's result. The error parameter defaults to [`Error`] and can be given, so a glob import
/// of the prelude does not take `Result<T, E>` away from a notebook's own code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A lab error passes through `?` in code that returns candle's `Result` (a custom op, a
/// `Module`): a candle error comes back as itself, any other is wrapped with its message.
impl From<Error> for candle_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Candle(c) => c,
            other => candle_core::Error::wrap(other),
        }
    }
}

impl Error {
    /// [`Error::Config`] blaming the config field `setting`.
    pub fn invalid(setting: &'static str, why: impl Into<String>) -> Self {
        Self::Config { setting: Some(setting), why: why.into() }
    }

    /// The setting a user can change to get past this error: the field an [`Error::Config`]
    /// names, `lr` for a diverged run, `batch_size` for a step that ran out of memory.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            Self::Config { setting, .. } => *setting,
            Self::Diverged { .. } | Self::DivergedWeights { .. } => Some("lr"),
            Self::OutOfMemory { .. } | Self::OverBudget { .. } => Some("batch_size"),
            _ => None,
        }
    }

    /// The message without its kind ("data error: ", "invalid configuration: "), for lists of
    /// problems under one heading.
    pub fn detail(&self) -> String {
        match self {
            Self::Config { why, .. } => why.clone(),
            Self::Data(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// [`Error::from_device`] for the lab's own error: candle errors from a step on `device`
    /// with `batch_size` examples become [`Error::OutOfMemory`] where they say so.
    pub(crate) fn on_device(self, device: &str, batch_size: usize) -> Self {
        match self {
            Self::Candle(c) => Self::from_device(c, device, batch_size),
            other => other,
        }
    }

    /// Turns a device allocation failure into [`Error::OutOfMemory`] (CUDA reports running out
    /// of memory during cuBLAS set-up as `CUBLAS_STATUS_NOT_INITIALIZED`); other errors pass.
    /// The message keeps candle's words and drops the backtrace candle appends when
    /// `RUST_BACKTRACE` is set (seen on an H200: 22 frames of `<unknown>` inside the sentence).
    pub fn from_device(e: candle_core::Error, device: &str, batch_size: usize) -> Self {
        let mut inner = &e;
        while let candle_core::Error::WithBacktrace { inner: i, .. } = inner {
            inner = i;
        }
        let msg = inner.to_string();
        let oom = ["out of memory", "OUT_OF_MEMORY", "CUBLAS_STATUS_NOT_INITIALIZED", "CUBLAS_STATUS_ALLOC_FAILED", "memory allocation of"];
        if oom.iter().any(|k| msg.contains(k)) {
            Self::OutOfMemory { device: device.into(), batch_size, smaller: (batch_size / 2).max(1), detail: msg }
        } else {
            Self::Candle(e)
        }
    }

    /// [`Error::Config`] that no single field is to blame for.
    pub fn config(msg: impl Into<String>) -> Self {
        Self::Config { setting: None, why: msg.into() }
    }
    pub fn data(msg: impl Into<String>) -> Self {
        Self::Data(msg.into())
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), io: source }
    }
}

/// A number as people write it: `0.01`, `1e300` (not 300 digits).
pub fn num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() >= 1e6 || x.abs() < 1e-4) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

static GUARDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` and turns a panic inside it — or in the threads it waits on, like polars' rayon
/// workers — into [`Error::Data`] naming `what`. For third-party code that panics on malformed
/// input (polars' parquet reader does, found by fuzzing: `fuzz/regressions/parquet`).
pub fn catch_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::sync::atomic::Ordering::SeqCst;
    GUARDED.fetch_add(1, SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, SeqCst);
    r.unwrap_or_else(|p| {
        let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
        Err(Error::data(format!("{what} ({})", msg.unwrap_or_else(|| "a panic without a message".into()))))
    })
}

/// Whether a [`catch_panic`] is running: panic hooks (the CLI's, the notebooks'
/// `fail_fast_on_panic`) stay quiet and let it turn the panic into an error.
pub(crate) fn panics_are_guarded() -> bool {
    GUARDED.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Wraps the current panic hook so that it stays quiet for panics a [`catch_panic`] turns into
/// errors (once per process): the CLI's `main` and the parquet fuzz target call it.
pub fn quiet_hook_for_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panics_are_guarded() {
                hook(info);
            }
        }));
    });
}
