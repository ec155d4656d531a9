//! Training and using a network: the recipe ([`TrainConfig`], [`Profile`]), d2l's
//! `train_ch6` ([`train_ch6()`], with every choice open: [`Fit`]), evaluation, SGD, crash-safe checkpoints, whole runs ([`run()`]),
//! prediction on photos, and the step benchmark.
//!
//! Inside, dependencies point one way: `config`, `history`, `optim` → `checkpoint` →
//! `evaluate`, `fit` → `run`; `predict` and `bench` use the ones they need.

pub mod bench;
pub mod checkpoint;
mod config;
mod evaluate;
mod fit;
mod history;
pub mod optim;
mod plan;
pub mod predict;
mod run;

pub use checkpoint::{load_model, run_label, CheckpointMeta};
pub use config::{LrSchedule, Profile, TrainConfig};
pub use evaluate::{accuracy, evaluate, evaluate_checkpoint, CheckpointEval, ClassAccuracy, ConfusionMatrix, Evaluation};
pub use fit::{train_ch6, Fit, Log, StopToken};
pub use history::{write_run_files, CurvePoint, EpochMetrics, History};
pub use optim::{loss_and_gradients, named_vars, Sgd, SgdConfig};
pub use plan::{plan, Action, Estimate, Plan, MEASURED_STEPS};
pub use predict::Predictor;
pub use run::{existing_run, lock_run_folder, recipe_changes, run, RunOptions, RunSummary, LOCK_FILE};
