//! Training and using a network: the recipe ([`TrainConfig`], [`Profile`]), the one trainer
//! ([`Trainer`]: whole runs with checkpoints, or a network over loaders in memory; d2l's
//! [`train_ch6()`] is it with d2l's arguments), evaluation, SGD, crash-safe checkpoints,
//! prediction on photos, and the step benchmark (which times the trainer's own step).
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
pub use evaluate::{accuracy, evaluate, evaluate_checkpoint, CheckpointEval, EvalOptions, ClassAccuracy, ConfusionMatrix, Evaluation};
pub use fit::{train_ch6, Log, StopToken, Trainer};
pub use history::{CurvePoint, EpochMetrics, History};
pub use optim::{loss_and_gradients, named_vars, Sgd, SgdConfig};
pub use plan::{Action, Estimate, Plan, MEASURED_STEPS};
pub use predict::Predictor;
pub use run::{lock_run_folder, RunSummary};
