//! Batch size vs memory (the lecture's Q&A): what a training step holds, predicted from the
//! model's own shapes; what it really takes, measured; and a memory budget that stops a sweep
//! with a clear error before a CPU machine starts swapping.
//!
//! The prediction, for a batch of `B` images, in f32:
//! - parameters: weights + their gradients + SGD momentum = 3 × #params;
//! - activations: every layer's output (and the input) is kept for the backward pass, and the
//!   backward pass makes a gradient of the same size for each: 2 × B × the sum of the
//!   per-example output sizes. That is an upper bound: candle 0.11's `backward` removes a node's
//!   gradient from its store once it has passed it on (`grads.remove(node)` in
//!   `candle-core/src/backprop.rs`), so only the gradients at the current depth are alive at a
//!   time, and the lab's convolution and linear ops apply bias and ReLU inside one op, so fewer
//!   outputs are kept than the 21 layers of the shape walk.
//!
//! What it leaves out (the measurement shows how much that is): temporary buffers of the
//! convolutions (im2col columns), dropout masks, the loss, allocator slack. The budget check
//! therefore counts the prediction with a margin ([`SAFETY_FACTOR`]).

use candle_core::Device;

use crate::nn::{infer_shapes, ModelKind};
use crate::report::display::{text, Svg};
use crate::report::plot::{lines_svg, Series};
use crate::sys::device::device_name;
use crate::sys::proc::{available_bytes, current_rss_bytes, reset_peak_rss};
use crate::train::bench::{self, Mode};
use crate::{Error, Result};

pub use crate::sys::proc::{gib};
pub(crate) use crate::sys::proc::GIB;

const F32: u64 = 4;

/// The environment variable that sets the memory budget of a sweep (e.g. `6G`, `512M`).
pub const BUDGET_ENV: &str = "ALEXNET_LAB_MEMORY_BUDGET";

/// Predicted memory of one training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Estimate {
    pub batch_size: usize,
    /// Weights, gradients and momentum.
    pub params_bytes: u64,
    /// Layer outputs kept for backward plus their gradients.
    pub activations_bytes: u64,
}

impl Estimate {
    pub fn total_bytes(&self) -> u64 {
        self.params_bytes + self.activations_bytes
    }
}

/// The prediction for `model` on `(c, h, w)` inputs at `batch_size` (see the module docs).
pub fn estimate(model: ModelKind, input: [usize; 3], batch_size: usize) -> Result<Estimate> {
    let specs = model.specs(input)?;
    let shapes = infer_shapes(&specs, &input)?;
    let params: u64 = specs.iter().map(|s| s.num_params() as u64).sum();
    let per_example: u64 =
        input.iter().product::<usize>() as u64 + shapes.iter().map(|s| s.iter().product::<usize>() as u64).sum::<u64>();
    Ok(Estimate {
        batch_size,
        params_bytes: 3 * params * F32,
        activations_bytes: 2 * batch_size as u64 * per_example * F32,
    })
}

/// A memory size from text: `6G`, `6GB`, `6GiB`, `512M`, `1.5g`, or plain bytes. K/M/G/T are
/// powers of 1024.
pub fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || Error::config(format!("memory size `{text}` is not a size like 6G, 512M or 1073741824"));
    let value: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// The budget a sweep stays under unless told otherwise: 80% of the memory available now (so
/// the machine never reaches swap). The library reads no environment for it: the `alexnet-lab`
/// binary takes `--budget`, else [`BUDGET_ENV`], and notebook 06 its knob of that name.
pub fn default_budget() -> Result<u64> {
    available_bytes()
        .map(|a| a / 5 * 4)
        .ok_or_else(|| Error::config(format!("cannot read MemAvailable from /proc/meminfo: give a budget ({BUDGET_ENV}, e.g. 6G)")))
}

/// One batch size of a sweep.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SweepPoint {
    pub batch_size: usize,
    pub predicted: Estimate,
    /// Peak memory the step added above what the process held before (CPU: `VmHWM` − `VmRSS`).
    pub measured_bytes: Option<u64>,
    pub seconds_per_step: Option<f64>,
    /// Why this batch size did not run (the error's message), if it did not.
    pub error: Option<String>,
    /// True when it was refused before running (prediction x margin over the CPU budget), false
    /// when it ran or failed on the device (out of memory).
    pub refused: bool,
}

impl SweepPoint {
    pub fn images_per_sec(&self) -> Option<f64> {
        self.seconds_per_step.map(|s| self.batch_size as f64 / s)
    }

    /// "ran", "refused before running (predicted over the budget)" or "out of memory".
    pub fn outcome(&self) -> &'static str {
        match (&self.error, self.refused) {
            (None, _) => "ran",
            (Some(_), true) => "refused before running (predicted over the budget)",
            (Some(_), false) => "out of memory",
        }
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub model: ModelKind,
    pub image_size: usize,
    /// Tried in increasing order; the sweep stops at the first that fails.
    pub batch_sizes: Vec<usize>,
    /// CPU: no batch size whose prediction exceeds this runs. GPU: the card's memory decides.
    pub budget_bytes: u64,
    /// Timed training steps per batch size (after one warm-up step).
    pub steps: usize,
}

impl SweepConfig {
    /// The notebook's sweep: AlexNet at `image_size`, batch sizes 8, 16, ... up to 16384 on a GPU
    /// (the card's memory is the limit) or 1024 on a CPU, where no batch size whose prediction
    /// (with the margin) exceeds `budget_bytes` runs; one timed step each.
    pub fn lecture(device: &Device, image_size: usize, budget_bytes: u64) -> Self {
        let top = if device.is_cpu() { 10 } else { 14 };
        Self { model: ModelKind::AlexNet, image_size, batch_sizes: (3..=top).map(|k| 1usize << k).collect(), budget_bytes, steps: 1 }
    }
}

impl std::fmt::Display for SweepConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {s}x{s}, batch sizes {:?}, memory budget {} (CPU)", self.model.name(), self.batch_sizes, gib(self.budget_bytes), s = self.image_size)
    }
}

/// What the budget check adds to a prediction for what the prediction leaves out (convolution
/// buffers, dropout masks, allocator slack): measured peaks of AlexNet training steps on a CPU
/// are 1.35x the prediction at batch 8 and 0.80-0.85x from batch 128 (notebook 06's committed
/// sweep), so the check counts 1.5x.
pub const SAFETY_FACTOR: f64 = 1.5;

/// The check a CPU step passes before it runs: its predicted memory, times [`SAFETY_FACTOR`],
/// fits `budget`.
pub fn check_budget(e: &Estimate, budget: u64, device: &Device) -> Result<()> {
    let needed = (e.total_bytes() as f64 * SAFETY_FACTOR) as u64;
    if needed <= budget {
        return Ok(());
    }
    Err(Error::OverBudget {
        device: device_name(device),
        batch_size: e.batch_size,
        smaller: fitting_batch(e, budget),
        detail: format!(
            "predicted {} (parameters {} + activations {}), with the {SAFETY_FACTOR}x margin {} > memory budget {} \
             (set it with {BUDGET_ENV}, e.g. {BUDGET_ENV}=8G)",
            gib(e.total_bytes()),
            gib(e.params_bytes),
            gib(e.activations_bytes),
            gib(needed),
            gib(budget)
        ),
    })
}

/// The largest batch size whose prediction (with the margin) fits `budget` (at least 1).
fn fitting_batch(e: &Estimate, budget: u64) -> usize {
    let per_example = e.activations_bytes as f64 / e.batch_size.max(1) as f64 * SAFETY_FACTOR;
    let room = budget as f64 - e.params_bytes as f64 * SAFETY_FACTOR;
    (room / per_example.max(1.0)).max(1.0) as usize
}

/// Runs the sweep: each batch size in increasing order gets a prediction, then (CPU: if the
/// prediction fits the budget) a warm-up step and `steps` timed training steps on random
/// images with its peak memory measured. The first batch size that cannot run (over the
/// budget, or out of memory on the device) is recorded with its error and ends the sweep;
/// errors other than running out of memory are returned. `on_point` sees each point as it comes.
pub fn sweep(cfg: &SweepConfig, device: &Device, mut on_point: impl FnMut(&SweepPoint)) -> Result<Sweep> {
    if cfg.batch_sizes.is_empty() || cfg.batch_sizes.contains(&0) || cfg.steps == 0 {
        return Err(Error::config("a sweep needs batch sizes of at least 1 and at least 1 step"));
    }
    let input = [cfg.model.default_input()[0], cfg.image_size, cfg.image_size];
    let mut sizes = cfg.batch_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut points = vec![];
    for b in sizes {
        let predicted = estimate(cfg.model, input, b)?;
        let mut point = SweepPoint { batch_size: b, predicted, measured_bytes: None, seconds_per_step: None, error: None, refused: false };
        let fits = if device.is_cpu() { check_budget(&predicted, cfg.budget_bytes, device) } else { Ok(()) };
        let outcome = fits.and_then(|_| {
            // Freed memory the allocator keeps (crate::sys::malloc) would count as in use: give it back.
            crate::sys::malloc::release_free_memory();
            let base = current_rss_bytes();
            let reset = reset_peak_rss();
            #[cfg(feature = "cuda")]
            let gpu_base = match device {
                Device::Cuda(d) => Some(crate::kernels::cuda::reset_peak_pool_bytes(d)?),
                _ => None,
            };
            let r = bench::Bench { repeats: cfg.steps, ..bench::Bench::new(cfg.model, Mode::Train, b, cfg.image_size) }.run(device)?;
            let measured = match (device.is_cpu() && reset, base, r.peak_rss_bytes) {
                (true, Some(base), Some(peak)) => Some(peak.saturating_sub(base)),
                _ => None,
            };
            // On a CUDA device: the card's memory, the pool's high-water mark over the steps.
            #[cfg(feature = "cuda")]
            let measured = match (device, gpu_base) {
                (Device::Cuda(d), Some(base)) => Some(crate::kernels::cuda::peak_pool_bytes(d)?.saturating_sub(base)).filter(|b| *b > 0),
                _ => measured,
            };
            Ok((measured, r.median_seconds))
        });
        // Whatever allocation failed (input, model, step), a device that ran out says so.
        let outcome = outcome.map_err(|e| e.on_device(&device_name(device), b));
        let stop = match outcome {
            Ok((measured, secs)) => {
                point.measured_bytes = measured;
                point.seconds_per_step = Some(secs);
                false
            }
            Err(e @ (Error::OutOfMemory { .. } | Error::OverBudget { .. })) => {
                point.refused = matches!(e, Error::OverBudget { .. });
                point.error = Some(e.to_string());
                true
            }
            Err(e) => return Err(e),
        };
        on_point(&point);
        points.push(point);
        if stop {
            break;
        }
    }
    Ok(Sweep { device: device_name(device), image_size: cfg.image_size, model: cfg.model, points })
}

/// A finished sweep; prints (and shows in a notebook) as its table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sweep {
    pub model: ModelKind,
    pub image_size: usize,
    pub device: String,
    pub points: Vec<SweepPoint>,
}

impl Sweep {
    /// The points that ran.
    pub fn ran(&self) -> impl Iterator<Item = &SweepPoint> {
        self.points.iter().filter(|p| p.error.is_none())
    }

    /// The first batch size that did not fit, if any.
    pub fn first_failure(&self) -> Option<&SweepPoint> {
        self.points.iter().find(|p| p.error.is_some())
    }

    /// Predicted vs measured memory per batch size.
    pub fn plot(&self) -> Result<Svg> {
        plot_svg(&self.points, &format!("{} training step at {s}x{s} on {}", self.model.name(), self.device, s = self.image_size))
    }

    /// Images per second per batch size.
    pub fn throughput_plot(&self) -> Result<Svg> {
        let speed: Vec<(f64, f64)> = self.ran().filter_map(|p| p.images_per_sec().map(|s| (p.batch_size as f64, s))).collect();
        lines_svg("throughput vs batch size", "batch size", "images / s", &[Series { name: "training step", points: speed }], false)
    }

    /// `measured / predicted` per batch size that ran with a measurement.
    pub fn ratios(&self) -> Vec<(usize, f64)> {
        self.ran()
            .filter_map(|p| p.measured_bytes.map(|m| (p.batch_size, m as f64 / p.predicted.total_bytes() as f64)))
            .collect()
    }

    pub fn evcxr_display(&self) {
        text(&render(&self.points));
    }
}

impl std::fmt::Display for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render(&self.points))
    }
}

/// The sweep as a text table.
pub fn render(points: &[SweepPoint]) -> String {
    let mut s = format!(
        "{:>6}  {:>13}  {:>12}  {:>9}  {:>10}  {}\n",
        "batch", "predicted GiB", "measured GiB", "s/step", "img/s", "outcome"
    );
    for p in points {
        let opt = |v: Option<f64>, prec: usize| v.map_or("-".into(), |v| format!("{v:.prec$}"));
        s += &format!(
            "{:>6}  {:>13.3}  {:>12}  {:>9}  {:>10}  {}\n",
            p.batch_size,
            p.predicted.total_bytes() as f64 / GIB,
            opt(p.measured_bytes.map(|b| b as f64 / GIB), 3),
            opt(p.seconds_per_step, 3),
            opt(p.images_per_sec(), 1),
            p.error.as_deref().unwrap_or("ok")
        );
    }
    s
}

/// Predicted vs measured memory per batch size (log-log would hide the linear growth: linear axes).
pub fn plot_svg(points: &[SweepPoint], title: &str) -> Result<Svg> {
    let ok: Vec<&SweepPoint> = points.iter().filter(|p| p.error.is_none()).collect();
    let predicted = ok.iter().map(|p| (p.batch_size as f64, p.predicted.total_bytes() as f64 / GIB)).collect();
    let measured: Vec<(f64, f64)> =
        ok.iter().filter_map(|p| p.measured_bytes.map(|m| (p.batch_size as f64, m as f64 / GIB))).collect();
    let mut series = vec![Series { name: "predicted", points: predicted }];
    if !measured.is_empty() {
        series.push(Series { name: "measured (peak RSS added)", points: measured });
    }
    lines_svg(title, "batch size", "GiB", &series, false)
}
