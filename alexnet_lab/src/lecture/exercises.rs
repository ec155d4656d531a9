//! d2l §7.1's exercises answered by experiment (notebook 07): the training runs each exercise
//! needs ([`Experiment`], grouped per exercise: [`more_epochs`], [`simpler_models`],
//! [`batch_sizes`], [`lenet_changes`], [`overfit`], [`too_high_lr`]), their results side by side
//! ([`Comparison`]: accuracy with its 95% interval, time, size), and what each layer of a network
//! costs in memory, compute and time ([`LayerCosts`]: exercises 4 and 8).
//!
//! Every experiment is a [`TrainConfig`] trained by [`Trainer::run`] into a run folder
//! named after the experiment and its size, resuming: a finished run is loaded, not trained
//! again. `alexnet-lab exercises` trains the recorded sizes ([`recorded`]) from a terminal.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, ModuleT, Tensor};

use crate::nn::{LayerSpec, ModelKind, Sequential};
use crate::report::{plot, Svg};
use crate::train::{self, History, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

/// One training run of an exercise: its name (also its run folder's) and its recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub name: String,
    pub config: TrainConfig,
}

impl Experiment {
    fn new(name: impl Into<String>, config: TrainConfig) -> Self {
        Self { name: name.into(), config }
    }

    /// Trains the experiment into `root/<name>` on `device`, or loads it when that folder holds
    /// the finished run (the recipe is checked: another recipe in the folder is an error).
    pub fn run(&self, root: &Path, device: &Device, progress: bool) -> Result<Outcome> {
        let out = root.join(&self.name);
        let trainer = Trainer { device: device.clone(), resume: true, progress, ..Trainer::new(self.config.clone()).into_folder(&out) };
        let summary = trainer.run()?;
        Outcome::new(&self.name, &self.config, summary.history, train::run_label(&out)?)
    }
}

/// Trains (or loads) each experiment in turn into `root`.
pub fn run_all(experiments: &[Experiment], root: &Path, device: &Device, progress: bool) -> Result<Comparison> {
    let rows = experiments.iter().map(|e| e.run(root, device, progress)).collect::<Result<Vec<_>>>()?;
    Ok(Comparison { rows })
}

fn limited(limit: Option<usize>) -> String {
    limit.map_or(String::new(), |n| format!("-{n}-images"))
}

/// Exercise 1: d2l's LeNet recipe (sigmoid, lr 0.9, batch 256, 28x28) for `epochs` epochs
/// instead of 10. (AlexNet's longer run is the recorded `docs/results/cpu-6-epochs`.)
pub fn more_epochs(epochs: usize) -> Vec<Experiment> {
    vec![Experiment::new(format!("lenet-{epochs}-epochs"), TrainConfig { epochs, ..TrainConfig::lenet() })]
}

/// Exercise 2: the simpler AlexNet (`alexnet-small`, 2a) and the 28x28 network (`vgg-28`, 2b),
/// each with cpu-full's recipe (4 epochs, batch 64, momentum 0.9, cosine), on `limit` training
/// images (`None`: all 60,000). AlexNet's own cpu-full run is the one to compare with.
pub fn simpler_models(limit: Option<usize>) -> Vec<Experiment> {
    [ModelKind::AlexNetSmall, ModelKind::Vgg28]
        .into_iter()
        .map(|m| Experiment::new(format!("{m}-cpu-full{}", limited(limit)), TrainConfig { limit, ..TrainConfig::cpu_full().with_model(m) }))
        .collect()
}

/// Exercise 3: d2l's AlexNet at 80x80 for `epochs` epochs over `limit` training images at each
/// batch size, with the same learning rate (0.01, momentum 0.9, constant): a larger batch takes
/// fewer, less noisy steps.
pub fn batch_sizes(sizes: &[usize], limit: Option<usize>, epochs: usize) -> Vec<Experiment> {
    sizes
        .iter()
        .map(|&b| {
            let config = TrainConfig { batch_size: b, epochs, limit, schedule: LrSchedule::Constant, warmup_epochs: 0.0, ..TrainConfig::cpu_full() };
            Experiment::new(format!("alexnet-batch-{b}-{epochs}-epochs{}", limited(limit)), config)
        })
        .collect()
}

/// Exercise 5: d2l's LeNet recipe (10 epochs by default, batch 256) for d2l's LeNet (sigmoid,
/// lr 0.9), LeNet with ReLU, max-pooling and dropout (lr 0.1: ReLU nets do not take d2l's 0.9
/// for sigmoid), and the same with augmentation (random crops and left-right flips).
pub fn lenet_changes(epochs: usize) -> Vec<Experiment> {
    let d2l = TrainConfig { epochs, ..TrainConfig::lenet() };
    let relu = TrainConfig { lr: 0.1, ..d2l.clone().with_model(ModelKind::LeNetRelu) };
    let mut augmented = relu.clone();
    augmented.augment.random_crop = true;
    augmented.augment.hflip = true;
    vec![
        Experiment::new(format!("lenet-{epochs}-epochs"), d2l),
        Experiment::new(format!("lenet-relu-{epochs}-epochs"), relu),
        Experiment::new(format!("lenet-relu-augmented-{epochs}-epochs"), augmented),
    ]
}

/// Exercise 6: d2l's AlexNet at 80x80 with and without dropout on a tiny training set
/// (`limit` images, `epochs` epochs, cpu-full's optimiser), tested on `test_limit` images.
pub fn overfit(limit: usize, epochs: usize, test_limit: Option<usize>) -> Vec<Experiment> {
    [ModelKind::AlexNet, ModelKind::AlexNetNoDropout]
        .into_iter()
        .map(|m| {
            let config = TrainConfig { epochs, limit: Some(limit), test_limit, ..TrainConfig::cpu_full().with_model(m) };
            Experiment::new(format!("overfit-{m}-{limit}-images-{epochs}-epochs"), config)
        })
        .collect()
}

/// Exercise 6, breaking training: d2l's AlexNet at 80x80 with a learning rate of `lr`
/// (momentum 0.9) for one epoch on `limit` images, tested on as many: the run stops with
/// [`Error::Diverged`] when the loss stops being finite.
pub fn too_high_lr(lr: f64, limit: usize) -> Experiment {
    let config = TrainConfig {
        lr,
        epochs: 1,
        limit: Some(limit),
        test_limit: Some(limit),
        schedule: LrSchedule::Constant,
        warmup_epochs: 0.0,
        ..TrainConfig::cpu_full()
    };
    Experiment::new(format!("alexnet-lr-{lr}-{limit}-images"), config)
}

/// Every experiment at the size notebook 07's committed outputs were recorded at (the defaults
/// of its knobs): what `alexnet-lab exercises` trains.
pub fn recorded() -> Vec<Experiment> {
    let mut all = more_epochs(30);
    all.extend(lenet_changes(10));
    all.extend(simpler_models(None).into_iter().rev());
    all.extend(batch_sizes(&[16, 64, 256], Some(12_000), 2));
    all.extend(overfit(1000, 30, Some(2000)));
    all
}

/// The result of one experiment: its recipe, its history, and the label of the run that made it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub config: TrainConfig,
    pub history: History,
    /// [`train::run_label`] of the run folder: name, recipe, commit, date.
    pub label: String,
    pub params: u64,
    /// Multiply-adds of one forward pass for one image.
    pub macs: u64,
}

impl Outcome {
    fn new(name: &str, config: &TrainConfig, history: History, label: String) -> Result<Self> {
        let c = crate::lecture::Complexity::of_specs(config.model.name(), &config.input(), &config.specs()?)?;
        Ok(Self { name: name.into(), config: config.clone(), history, label, params: c.totals.params, macs: c.totals.macs })
    }

    /// A recorded run's outcome from its folder (its `checkpoint.json` alone; no weights needed),
    /// e.g. `docs/results/cpu-full`.
    /// Its label says where it is recorded and which commit trained it, when the checkpoint
    /// knows (runs from before the lab recorded commits do not).
    pub fn recorded(dir: &Path) -> Result<Self> {
        let (dir, meta) = train::checkpoint::read_meta(dir)?;
        let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let label = format!(
            "recorded run {} ({}): {}, test acc {:.3}",
            dir.display(),
            meta.commit.as_ref().map_or("commit not recorded".into(), |c| format!("commit {c}")),
            meta.config,
            meta.history.epochs.last().map_or(0.0, |e| e.test_acc)
        );
        Self::new(&name, &meta.config, meta.history, label)
    }

    /// Test accuracy after epoch `epoch` (1-based), if the run got that far.
    pub fn test_acc_at(&self, epoch: usize) -> Option<f64> {
        self.history.epochs.iter().find(|e| e.epoch == epoch).map(|e| e.test_acc)
    }

    /// Test accuracy after the last epoch.
    pub fn test_acc(&self) -> f64 {
        self.history.epochs.last().map_or(0.0, |e| e.test_acc)
    }

    /// Training accuracy of the last epoch (measured during it, in train mode).
    pub fn train_acc(&self) -> f64 {
        self.history.epochs.last().map_or(0.0, |e| e.train_acc)
    }

    /// How many test images the accuracy was measured on.
    pub fn test_images(&self) -> usize {
        self.config.test_limit.unwrap_or(10_000)
    }

    /// The 95% interval of the test accuracy ([`accuracy_interval`]).
    pub fn interval(&self) -> (f64, f64) {
        accuracy_interval(self.test_acc(), self.test_images())
    }

    /// Seconds spent training (all epochs, without the test passes).
    pub fn train_seconds(&self) -> f64 {
        self.history.epochs.iter().map(|e| e.train_seconds).sum()
    }
}

/// The Wilson 95% interval of an accuracy `acc` measured on `n` test images: the range of true
/// accuracies this measurement does not rule out (how far apart two runs must be to differ).
pub fn accuracy_interval(acc: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n) = (1.959_963_984_540_054_f64, n as f64);
    let centre = (acc + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (acc * (1.0 - acc) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Experiments side by side: one row each.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub rows: Vec<Outcome>,
}

impl Comparison {
    /// Adds a recorded run ([`Outcome::recorded`]).
    pub fn with_recorded(mut self, dir: &Path) -> Result<Self> {
        self.rows.push(Outcome::recorded(dir)?);
        Ok(self)
    }

    /// The row named `name`.
    pub fn get(&self, name: &str) -> Result<&Outcome> {
        self.rows.iter().find(|r| r.name == name).ok_or_else(|| Error::config(format!("no experiment named {name} in this comparison")))
    }

    /// The labels of the runs behind the rows, one per line.
    pub fn labels(&self) -> String {
        self.rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// Test accuracy per epoch of every row (and, with `train`, training accuracy: the share of
    /// each epoch's training images classified right, in train mode, as d2l plots it).
    pub fn plot(&self, title: &str, train: bool) -> Result<Svg> {
        let mut named = Vec::new();
        for r in &self.rows {
            let points = |f: fn(&train::EpochMetrics) -> f64| r.history.epochs.iter().map(|e| (e.epoch as f64, f(e))).collect::<Vec<_>>();
            named.push((format!("{} test", r.name), points(|e| e.test_acc)));
            if train {
                named.push((format!("{} train", r.name), points(|e| e.train_acc)));
            }
        }
        let series: Vec<plot::Series> = named.iter().map(|(name, points)| plot::Series { name, points: points.clone() }).collect();
        plot::lines_svg(title, "epoch", "accuracy", &series, false)
    }

    /// Test accuracy (with its 95% interval) and last-epoch training accuracy against an `x`
    /// the rows differ in (batch size, ...).
    pub fn plot_against(&self, title: &str, x_desc: &str, x: impl Fn(&Outcome) -> f64) -> Result<Svg> {
        let pts = |f: &dyn Fn(&Outcome) -> f64| self.rows.iter().map(|r| (x(r), f(r))).collect::<Vec<_>>();
        let series = [
            plot::Series { name: "test accuracy", points: pts(&|r| r.test_acc()) },
            plot::Series { name: "test accuracy, 95% interval low", points: pts(&|r| r.interval().0) },
            plot::Series { name: "test accuracy, 95% interval high", points: pts(&|r| r.interval().1) },
            plot::Series { name: "train accuracy (last epoch)", points: pts(&|r| r.train_acc()) },
        ];
        plot::lines_svg(title, x_desc, "accuracy", &series, false)
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<48} {:>28} {:>8} {:>7} {:>6} {:>7} {:>6} {:>9} {:>15} {:>8} {:>8}",
            "experiment", "model", "params", "MACs", "input", "train", "epochs", "train acc", "test acc (95%)", "train s", "img/s"
        )?;
        for r in &self.rows {
            let (lo, hi) = r.interval();
            let last = r.history.epochs.last();
            writeln!(
                f,
                "{:<48} {:>28} {:>7.2}M {:>6.1}M {:>6} {:>7} {:>6} {:>9.3} {:>5.3} {:.3}-{:.3} {:>8.0} {:>8.1}",
                r.name,
                r.config.model.label(),
                r.params as f64 / 1e6,
                r.macs as f64 / 1e6,
                format!("{}x{}", r.config.image_size, r.config.image_size),
                last.map_or(0, |e| e.examples),
                r.history.epochs.len(),
                r.train_acc(),
                r.test_acc(),
                lo,
                hi,
                r.train_seconds(),
                r.history.examples_per_sec()
            )?;
        }
        Ok(())
    }
}

impl Comparison {
    pub fn evcxr_display(&self) {
        println!("{self}");
    }
}

/// What one layer costs, for a batch of `batch` images (f32: 4 bytes a number).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerCost {
    pub index: usize,
    /// PyTorch's class name (`Conv2d`, `Linear`, ...).
    pub kind: String,
    pub layer: String,
    pub output_shape: Vec<usize>,
    /// Bytes of the weights and biases (as many again for their gradients, and again for SGD's
    /// momentum, while training).
    pub param_bytes: u64,
    /// Bytes of the layer's output for the batch: what the next layer reads, and what training
    /// keeps until the backward pass (the autograd graph holds every op's result).
    pub activation_bytes: u64,
    /// Multiply-adds for the batch.
    pub macs: u64,
    /// FLOPs (2 per multiply-add) per byte the layer must at least move in a forward pass: its
    /// parameters read once, its input read once, its output written once. `None` for layers
    /// without multiply-adds.
    pub intensity: Option<f64>,
    /// Measured seconds of the layer's forward pass for the batch (median), when measured.
    pub forward_seconds: Option<f64>,
}

impl LayerCost {
    /// Measured speed of the layer's forward pass: FLOPs (2 per multiply-add) per second, in
    /// billions; `None` when not measured or without multiply-adds.
    pub fn gflops(&self) -> Option<f64> {
        self.forward_seconds.filter(|s| *s > 0.0 && self.macs > 0).map(|s| 2.0 * self.macs as f64 / s / 1e9)
    }
}

/// Memory, compute and time per layer of a network for a batch size (exercises 4 and 8).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerCosts {
    pub model: String,
    pub input: [usize; 3],
    pub batch: usize,
    pub rows: Vec<LayerCost>,
}

/// Sums of [`LayerCost`]s over one kind of layer (or all).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CostSum {
    pub param_bytes: u64,
    pub activation_bytes: u64,
    pub macs: u64,
    pub forward_seconds: f64,
}

impl LayerCosts {
    /// The computed costs of `net`'s layers for a batch of `batch` (nothing is run).
    pub fn of(net: &Sequential, batch: usize) -> Result<Self> {
        Self::of_specs(net.name(), net.input_dims(), &net.specs(), batch)
    }

    /// [`LayerCosts::of`] from a layer list: each layer's shape, parameters and multiply-adds
    /// as [`Complexity::of_specs`](crate::lecture::Complexity::of_specs) counts them, for the batch.
    pub fn of_specs(model: &str, input: [usize; 3], specs: &[LayerSpec], batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::invalid("batch_size", "the batch size must be at least 1 (e.g. 64)"));
        }
        let c = crate::lecture::Complexity::of_specs(model, &input, specs)?;
        let b = batch as u64;
        let mut in_elems: u64 = input.iter().product::<usize>() as u64;
        let rows = c
            .layers
            .into_iter()
            .map(|r| {
                let out_elems = r.output_shape.iter().product::<usize>() as u64;
                let param_bytes = 4 * r.params;
                let macs = r.macs * b;
                let moved = param_bytes + 4 * b * (in_elems + out_elems);
                in_elems = out_elems;
                LayerCost {
                    index: r.index,
                    kind: r.kind,
                    layer: r.layer,
                    output_shape: r.output_shape,
                    param_bytes,
                    activation_bytes: 4 * b * out_elems,
                    macs,
                    intensity: (macs > 0).then(|| 2.0 * macs as f64 / moved as f64),
                    forward_seconds: None,
                }
            })
            .collect();
        Ok(Self { model: model.into(), input, batch, rows })
    }

    /// Measures each layer's forward pass (eval mode) on a batch of random images: `repeats`
    /// timed runs after one untimed one, the median kept. The layers run one by one, each on
    /// the previous one's output (a convolution and its ReLU as two ops, not fused as in
    /// [`Sequential::forward`]).
    pub fn measure(mut self, net: &Sequential, repeats: usize, device: &Device) -> Result<Self> {
        if net.input_dims() != self.input || net.layers().len() != self.rows.len() {
            return Err(Error::config(format!(
                "these costs are of {} for {:?} ({} layers), not of {} for {:?} ({} layers): compute them with LayerCosts::of(&net, batch)",
                self.model,
                self.input,
                self.rows.len(),
                net.name(),
                net.input_dims(),
                net.layers().len()
            )));
        }
        let [c, h, w] = self.input;
        let mut x = Tensor::randn(0f32, 1.0, (self.batch, c, h, w), device)?.to_dtype(DType::F32)?;
        for (row, layer) in self.rows.iter_mut().zip(net.layers()) {
            let mut times = Vec::with_capacity(repeats.max(1));
            let mut y = layer.forward_t(&x, false)?;
            for _ in 0..repeats.max(1) {
                let t = Instant::now();
                y = layer.forward_t(&x, false)?;
                device.synchronize()?;
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            row.forward_seconds = times.get(times.len() / 2).copied();
            x = y;
        }
        Ok(self)
    }

    /// The sums over the layers of `kind` (`"Conv2d"`, `"Linear"`; `None`: all layers).
    pub fn sum(&self, kind: Option<&str>) -> CostSum {
        self.sum_where(|r| kind.is_none_or(|k| r.kind == k))
    }

    fn sum_where(&self, keep: impl Fn(&LayerCost) -> bool) -> CostSum {
        self.rows.iter().filter(|r| keep(r)).fold(CostSum::default(), |s, r| CostSum {
            param_bytes: s.param_bytes + r.param_bytes,
            activation_bytes: s.activation_bytes + r.activation_bytes,
            macs: s.macs + r.macs,
            forward_seconds: s.forward_seconds + r.forward_seconds.unwrap_or(0.0),
        })
    }

    /// Bytes training holds for the batch: parameters, their gradients and momentum (3x the
    /// parameter bytes), the input batch and every layer's output, kept for the backward pass.
    pub fn training_bytes(&self) -> u64 {
        let all = self.sum(None);
        let input = 4 * self.batch as u64 * self.input.iter().product::<usize>() as u64;
        3 * all.param_bytes + input + all.activation_bytes
    }

    /// Convolutions against dense layers and the rest: parameter, gradient and momentum bytes,
    /// activation bytes, multiply-adds and measured time, each as a share of the whole.
    pub fn shares(&self) -> Vec<(String, CostSum)> {
        vec![
            ("convolutions".into(), self.sum(Some("Conv2d"))),
            ("dense layers".into(), self.sum(Some("Linear"))),
            ("other layers".into(), self.sum_where(|r| r.kind != "Conv2d" && r.kind != "Linear")),
        ]
    }

    /// Share of parameters, activations, multiply-adds and measured time per layer with any of
    /// them, as bars.
    pub fn plot(&self) -> Result<Svg> {
        let rows: Vec<&LayerCost> = self.rows.iter().filter(|r| r.param_bytes > 0 || r.macs > 0 || r.kind.contains("Pool")).collect();
        let all = self.sum(None);
        let share = |f: &dyn Fn(&LayerCost) -> f64, total: f64| rows.iter().map(|r| if total > 0.0 { f(r) / total } else { 0.0 }).collect::<Vec<_>>();
        let labels = rows.iter().map(|r| format!("{} {}", r.index, r.kind)).collect::<Vec<_>>();
        let mut columns = vec![
            ("parameters (+grad, momentum)", share(&|r| r.param_bytes as f64, all.param_bytes as f64)),
            ("activations", share(&|r| r.activation_bytes as f64, all.activation_bytes as f64)),
            ("multiply-adds", share(&|r| r.macs as f64, all.macs as f64)),
        ];
        if all.forward_seconds > 0.0 {
            columns.push(("forward time (measured)", share(&|r| r.forward_seconds.unwrap_or(0.0), all.forward_seconds)));
        }
        plot::share_bars_svg(&format!("{} {:?}, batch {}: where the memory and the compute go", self.model, self.input, self.batch), &labels, &columns)
    }
}

impl std::fmt::Display for LayerCosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        writeln!(f, "{} for a batch of {} x {:?} (f32)", self.model, self.batch, self.input)?;
        writeln!(
            f,
            "{:>2}  {:<50} {:>15} {:>10} {:>12} {:>10} {:>10} {:>9} {:>8}",
            "#", "layer", "output", "param MiB", "activ. MiB", "MMACs", "FLOP/byte", "fwd ms", "GFLOP/s"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:>2}  {:<50} {:>15} {:>10.2} {:>12.2} {:>10.1} {:>10} {:>9} {:>8}",
                r.index,
                r.layer,
                format!("{:?}", r.output_shape),
                mib(r.param_bytes),
                mib(r.activation_bytes),
                r.macs as f64 / 1e6,
                r.intensity.map_or("-".into(), |i| format!("{i:.1}")),
                r.forward_seconds.map_or("-".into(), |s| format!("{:.2}", 1e3 * s)),
                r.gflops().map_or("-".into(), |g| format!("{g:.1}"))
            )?;
        }
        for (name, s) in self.shares() {
            writeln!(
                f,
                "    {:<50} {:>15} {:>10.2} {:>12.2} {:>10.1} {:>10} {:>9} {:>8}",
                name,
                "",
                mib(s.param_bytes),
                mib(s.activation_bytes),
                s.macs as f64 / 1e6,
                "",
                if s.forward_seconds > 0.0 { format!("{:.2}", 1e3 * s.forward_seconds) } else { "-".into() },
                if s.forward_seconds > 0.0 && s.macs > 0 { format!("{:.1}", 2.0 * s.macs as f64 / s.forward_seconds / 1e9) } else { "-".into() }
            )?;
        }
        write!(
            f,
            "training holds {:.1} MiB: parameters + gradients + momentum {:.1} MiB, input and activations {:.1} MiB",
            mib(self.training_bytes()),
            mib(3 * self.sum(None).param_bytes),
            mib(self.training_bytes() - 3 * self.sum(None).param_bytes)
        )
    }
}

impl LayerCosts {
    pub fn evcxr_display(&self) {
        println!("{self}");
    }
}

/// Exercise 7: what each trained network costs and gives: parameters, multiply-adds, measured
/// speed on this machine (forward pass and training step, one after the other in this process:
/// their ratios compare), and its test accuracy.
#[derive(Debug, Clone)]
pub struct Efficiency {
    /// `(outcome, forward images per second, training-step images per second)` at `batch`.
    pub rows: Vec<(Outcome, f64, f64)>,
    pub batch: usize,
    pub device: String,
}

impl Efficiency {
    /// Measures each run's model at its input size on random images, batch `batch`: the forward
    /// pass (eval mode) and a training step (forward, loss, backward, SGD), each one untimed
    /// step then the median of `repeats`.
    pub fn measure(outcomes: &[Outcome], batch: usize, repeats: usize, device: &Device) -> Result<Self> {
        use train::bench::{Bench, Mode};
        let rows = outcomes
            .iter()
            .map(|o| {
                let bench = |mode| Bench { repeats, ..Bench::new(o.config.model, mode, batch, o.config.image_size) }.run(device);
                let fwd = bench(Mode::Forward)?.images_per_sec;
                let step = bench(Mode::Train)?.images_per_sec;
                Ok((o.clone(), fwd, step))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { rows, batch, device: crate::sys::device_name(device) })
    }
}

impl std::fmt::Display for Efficiency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "batch {} on {}, measured now, one model after the other; test accuracy of each run", self.batch, self.device)?;
        writeln!(
            f,
            "{:<32} {:>22} {:>7} {:>9} {:>9} {:>10} {:>11} {:>15}",
            "run", "model", "input", "params", "MACs", "fwd img/s", "train img/s", "test acc (95%)"
        )?;
        for (o, fwd, step) in &self.rows {
            let (lo, hi) = o.interval();
            writeln!(
                f,
                "{:<32} {:>22} {:>7} {:>8.2}M {:>8.1}M {:>10.0} {:>11.0} {:>5.3} {:.3}-{:.3}",
                o.name,
                o.config.model.label(),
                format!("{}x{}", o.config.image_size, o.config.image_size),
                o.params as f64 / 1e6,
                o.macs as f64 / 1e6,
                fwd,
                step,
                o.test_acc(),
                lo,
                hi
            )?;
        }
        Ok(())
    }
}

impl Efficiency {
    pub fn evcxr_display(&self) {
        println!("{self}");
    }
}
