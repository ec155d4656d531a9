//! What a run measured: per-epoch metrics, d2l's Animator points, their tables and plot, and
//! the run folder's `metrics.csv`, `curve.csv`, `curve.svg`.

use std::path::Path;

use crate::report::display::Svg;
use crate::report::plot::{animator_svg, Series};
use crate::report::table::csv_string;
use crate::sys::fs::write_atomic;
use crate::Result;

/// The numbers of one epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_acc: f64,
    pub examples: usize,
    /// Time in training steps only (forward, loss, backward, update), as d2l's timer.
    pub train_seconds: f64,
    pub examples_per_sec: f64,
    /// The whole epoch including data preparation waits and evaluation.
    pub wall_seconds: f64,
    /// The loss of every training step of the epoch, in order (the same seed and configuration
    /// give the same numbers, bit for bit, on a CPU).
    #[serde(default)]
    pub step_losses: Vec<f64>,
}

/// A point of d2l's Animator: train points 5 times per epoch, test once per epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    pub epoch: f64,
    pub train_loss: Option<f64>,
    pub train_acc: Option<f64>,
    pub test_acc: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    pub epochs: Vec<EpochMetrics>,
    pub curve: Vec<CurvePoint>,
    pub device: String,
}

impl History {
    /// Examples/sec over all epochs' training steps.
    pub fn examples_per_sec(&self) -> f64 {
        let ex: usize = self.epochs.iter().map(|e| e.examples).sum();
        let t: f64 = self.epochs.iter().map(|e| e.train_seconds).sum();
        if t > 0.0 { ex as f64 / t } else { 0.0 }
    }

    /// d2l's two final lines.
    pub fn final_lines(&self) -> String {
        match self.epochs.last() {
            Some(e) => format!(
                "loss {:.3}, train acc {:.3}, test acc {:.3}\n{:.1} examples/sec on {}",
                e.train_loss,
                e.train_acc,
                e.test_acc,
                self.examples_per_sec(),
                self.device
            ),
            None => "no epoch completed".into(),
        }
    }

    /// Per-epoch metrics as a polars DataFrame.
    pub fn to_dataframe(&self) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::*;
        let e = &self.epochs;
        Ok(df!(
            "epoch" => e.iter().map(|m| m.epoch as u32).collect::<Vec<_>>(),
            "train_loss" => e.iter().map(|m| m.train_loss).collect::<Vec<_>>(),
            "train_acc" => e.iter().map(|m| m.train_acc).collect::<Vec<_>>(),
            "test_acc" => e.iter().map(|m| m.test_acc).collect::<Vec<_>>(),
            "examples" => e.iter().map(|m| m.examples as u64).collect::<Vec<_>>(),
            "train_seconds" => e.iter().map(|m| m.train_seconds).collect::<Vec<_>>(),
            "examples_per_sec" => e.iter().map(|m| m.examples_per_sec).collect::<Vec<_>>(),
            "wall_seconds" => e.iter().map(|m| m.wall_seconds).collect::<Vec<_>>(),
        )?)
    }

    /// d2l's Animator of this history: train loss, train acc (5 points per epoch), test acc
    /// (1 per epoch) against epochs.
    pub fn plot(&self, title: &str) -> Result<Svg> {
        type Getter = fn(&CurvePoint) -> Option<f64>;
        let series: [(&str, Getter); 3] =
            [("train loss", |p| p.train_loss), ("train acc", |p| p.train_acc), ("test acc", |p| p.test_acc)];
        let series: Vec<Series> = series
            .iter()
            .map(|&(name, get)| Series { name, points: self.curve.iter().filter_map(|p| get(p).map(|v| (p.epoch, v))).collect() })
            .collect();
        animator_svg(title, "epoch", &series)
    }

    /// The plot's title for a run: `3 epochs on cpu`.
    pub fn title(&self) -> String {
        let n = self.epochs.len();
        format!("{n} epoch{} on {}", if n == 1 { "" } else { "s" }, self.device)
    }

    /// A notebook shows d2l's final lines (printed) and the curve.
    pub fn evcxr_display(&self) {
        println!("{}", self.final_lines());
        match self.plot(&self.title()) {
            Ok(svg) => svg.evcxr_display(),
            Err(e) => eprintln!("cannot plot the curve: {e}"),
        }
    }

    /// The Animator's points as a DataFrame (empty cells where a series has no point).
    pub(crate) fn curve_dataframe(&self) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::*;
        let c = &self.curve;
        Ok(df!(
            "epoch" => c.iter().map(|p| p.epoch).collect::<Vec<_>>(),
            "train_loss" => c.iter().map(|p| p.train_loss).collect::<Vec<_>>(),
            "train_acc" => c.iter().map(|p| p.train_acc).collect::<Vec<_>>(),
            "test_acc" => c.iter().map(|p| p.test_acc).collect::<Vec<_>>(),
        )?)
    }
}

/// Writes `metrics.csv`, `curve.csv` and `curve.svg` into the run folder (atomically).
pub(crate) fn write_run_files(dir: &Path, h: &History) -> Result<()> {
    write_atomic(&dir.join("metrics.csv"), csv_string(&mut h.to_dataframe()?)?.as_bytes())?;
    write_atomic(&dir.join("curve.csv"), csv_string(&mut h.curve_dataframe()?)?.as_bytes())?;
    write_atomic(&dir.join("curve.svg"), h.plot(&h.title())?.as_bytes())
}
