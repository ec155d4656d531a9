//! `alexnet-lab bench`: images per second of a forward pass or a full training step
//! (forward, cross-entropy, backward, SGD update) on random data; warm-up, repeats, median.
//! A benchmark prints numbers; it is not a test.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::fit::sgd_step;
use super::optim::{named_vars, Sgd, SgdConfig};
use crate::kernels::Kernels;
use crate::data::loader::check_batch_size;
use crate::nn::ModelKind;
use crate::sys::device::device_name;
use crate::sys::proc::{cpu_seconds, peak_rss_bytes};
use crate::{Error, Result};

/// What a benchmark step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// The forward pass in eval mode.
    Forward,
    /// Forward, cross-entropy, backward, SGD update.
    Train,
}

crate::named_enum!(Mode "benchmark mode" { Forward = "forward", Train = "train" });

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub model: ModelKind,
    pub mode: Mode,
    pub batch_size: usize,
    pub image_size: usize,
    pub device: String,
    /// Seconds per step, in run order (after warm-up).
    pub step_seconds: Vec<f64>,
    pub median_seconds: f64,
    pub images_per_sec: f64,
    /// Mean time per phase of a train step: forward, backward, update.
    pub phases: Option<[f64; 3]>,
    /// CPU seconds (user + system) of the whole process so far.
    pub cpu_seconds: f64,
    /// Peak resident memory of the process in bytes (Linux `VmHWM`).
    pub peak_rss_bytes: Option<u64>,
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:?} {:?} batch {} at {}x{} on {}: {:.1} img/s (median of {} steps, {:.3} s/step)",
            self.model, self.mode, self.batch_size, self.image_size, self.image_size, self.device,
            self.images_per_sec, self.step_seconds.len(), self.median_seconds
        )?;
        if let Some([fw, bw, up]) = self.phases {
            writeln!(f, "  phases: forward {fw:.3} s, backward {bw:.3} s, update {up:.3} s")?;
        }
        write!(f, "  CPU seconds {:.1}", self.cpu_seconds)?;
        if let Some(p) = self.peak_rss_bytes {
            write!(f, ", peak memory {}", crate::sys::proc::gib(p))?;
        }
        Ok(())
    }
}

/// A benchmark: `mode` for `model` at `image_size`, batch `batch_size`, on random images,
/// `warmup` untimed steps, then the median of `repeats` timed ones, with `kernels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bench {
    pub model: ModelKind,
    pub mode: Mode,
    pub batch_size: usize,
    pub image_size: usize,
    pub warmup: usize,
    pub repeats: usize,
    pub kernels: Kernels,
}

impl Bench {
    /// `mode` for `model` at `image_size`, batch `batch_size`: 1 warm-up step, 5 timed, the
    /// lab's kernels (the `alexnet-lab bench` defaults); set the other fields as needed.
    pub fn new(model: ModelKind, mode: Mode, batch_size: usize, image_size: usize) -> Self {
        Self { model, mode, batch_size, image_size, warmup: 1, repeats: 5, kernels: Kernels::Lab }
    }
}

impl Bench {
    /// Runs it: images per second, the median step, its phases, CPU time and peak memory.
    pub fn run(&self, device: &Device) -> Result<BenchResult> {
        let Self { model, mode, batch_size, image_size, warmup, repeats, kernels } = *self;
        check_batch_size(batch_size)?;
        if repeats == 0 {
            return Err(Error::invalid("repeats", "repeats must be at least 1 (e.g. 5)"));
        }
        let input = [model.default_input()[0], image_size, image_size];
        let (net, varmap) = model.init(Some(input), 0, device)?;
        let net = net.with_kernels(kernels);
        let mut opt = Sgd::new(named_vars(&varmap), SgdConfig { lr: 0.01, momentum: 0.0, weight_decay: 0.0 })?.with_kernels(kernels);
        let x = Tensor::rand(0f32, 1f32, (batch_size, input[0], image_size, image_size), device)?;
        let classes = net.num_classes() as u32;
        let y = Tensor::from_vec((0..batch_size as u32).map(|i| i % classes).collect::<Vec<_>>(), batch_size, device)?;
        let dev = device_name(device);
        let mut times = vec![];
        let mut phases = [0.0; 3];
        for i in 0..warmup + repeats {
            let t0 = Instant::now();
            if mode == Mode::Train {
                // The trainer's own step; phases are summed over the timed steps only.
                let mut step_phases = [0.0; 3];
                sgd_step(&net, &mut opt, &x, &y, f64::INFINITY, Some(&mut step_phases)).map_err(|e| e.on_device(&dev, batch_size))?;
                if i >= warmup {
                    for (p, s) in phases.iter_mut().zip(step_phases) {
                        *p += s;
                    }
                }
            } else {
                let logits = net.forward(&x, false).map_err(|e| e.on_device(&dev, batch_size))?;
                logits.sum_all()?.to_scalar::<f32>()?;
            }
            if i >= warmup {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        Ok(BenchResult {
            model,
            mode,
            batch_size,
            image_size,
            device: dev,
            step_seconds: times,
            median_seconds: median,
            images_per_sec: batch_size as f64 / median,
            phases: (mode == Mode::Train).then(|| phases.map(|p| p / repeats as f64)),
            cpu_seconds: cpu_seconds(),
            peak_rss_bytes: peak_rss_bytes(),
        })
    }
}
