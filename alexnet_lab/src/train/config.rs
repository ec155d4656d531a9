//! What a training run is made of: [`TrainConfig`] and its ready-made [`Profile`]s.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::Device;

use super::optim::SgdConfig;
use crate::data::loader::check_batch_size;
use crate::data::{limited, Augment, DataLoader, Dataset, FashionMnist, LoaderConfig, Pipeline, ResizeMode};
use crate::nn::ModelKind;
use crate::{Error, Result};

/// Ready-made settings; every flag overrides its profile's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The lecture's run: AlexNet 224x224, batch 128, lr 0.01, 10 epochs, all data (for GPUs).
    D2l,
    /// Real learning on a 2-core CPU in 4-12 minutes (see `TrainConfig::cpu`).
    Cpu,
    /// The lecture's test accuracy (0.883) on a 2-core CPU: the `cpu` recipe with a warm-up
    /// and a cosine learning rate over several epochs (see `TrainConfig::cpu_full`).
    #[serde(rename = "cpu-full")]
    CpuFull,
    /// A few minutes on a CPU: a fifth of the training set at 67x67, one epoch; learns enough
    /// for the notebooks' experiments (see `TrainConfig::quick`).
    Quick,
    /// Seconds, for CI: a small slice, small images, one epoch.
    Smoke,
    /// d2l's LeNet run (chapter 6.6): sigmoid LeNet, 28x28, batch 256, lr 0.9, 10 epochs, all
    /// data; minutes on a CPU. The lecture compares AlexNet with it.
    Lenet,
}

crate::named_enum!(Profile "profile" { D2l = "d2l", Cpu = "cpu", CpuFull = "cpu-full", Quick = "quick", Smoke = "smoke", Lenet = "lenet" });

impl Profile {
    /// The profile a run gets when none is named: the lecture's on a GPU, `cpu` otherwise.
    pub fn default_for(device: &Device) -> Self {
        if device.is_cuda() { Self::D2l } else { Self::Cpu }
    }
}

/// Everything a training run is made of.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub profile: Profile,
    pub model: ModelKind,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub image_size: usize,
    /// Use only the first N training examples (None: all 60,000).
    pub limit: Option<usize>,
    /// Use only the first N test examples (None: all 10,000).
    pub test_limit: Option<usize>,
    pub seed: u64,
    pub resize: ResizeMode,
    pub augment: Augment,
    /// How the learning rate moves over the run (`lr` is its peak); constant in every profile
    /// but none yet. Absent from checkpoints written before it existed: constant.
    #[serde(default)]
    pub schedule: LrSchedule,
    /// Epochs of linear warm-up from `lr / steps per epoch` to `lr` (0: none).
    #[serde(default)]
    pub warmup_epochs: f64,
    /// Channels of the model's input: 1 (grey: Fashion-MNIST, grey photos) or 3 (RGB photos).
    /// Absent from checkpoints written before it existed: 1.
    #[serde(default = "one_channel")]
    pub channels: usize,
    /// The model's outputs (`None`: the model's own, 10 for d2l's nets); set from the data's
    /// classes by [`TrainConfig::fit_to`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_classes: Option<usize>,
}

fn one_channel() -> usize {
    1
}

/// The shape of the learning rate over a run, after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// `lr` throughout (d2l's `train_ch6`).
    #[default]
    Constant,
    /// Half a cosine from `lr` down to 0 at the end of the last epoch (SGDR without restarts).
    Cosine,
}

crate::named_enum!(LrSchedule "learning-rate schedule" { Constant = "constant", Cosine = "cosine" });

impl TrainConfig {
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::D2l => Self::d2l(),
            Profile::Cpu => Self::cpu(),
            Profile::CpuFull => Self::cpu_full(),
            Profile::Quick => Self::quick(),
            Profile::Smoke => Self::smoke(),
            Profile::Lenet => Self::lenet(),
        }
    }

    /// `d2l.train_ch6(net, train_iter, test_iter, 10, 0.9, ...)` for LeNet, batch 256, 28x28
    /// (d2l reports loss 0.469, train acc 0.823, test acc 0.779).
    pub fn lenet() -> Self {
        Self { profile: Profile::Lenet, model: ModelKind::LeNet, batch_size: 256, lr: 0.9, image_size: 28, ..Self::d2l() }
    }

    /// `d2l.train_ch6(net, train_iter, test_iter, 10, 0.01, try_gpu())` with `resize=224`, batch 128.
    pub fn d2l() -> Self {
        Self {
            profile: Profile::D2l,
            model: ModelKind::AlexNet,
            epochs: 10,
            batch_size: 128,
            lr: 0.01,
            momentum: 0.0,
            weight_decay: 0.0,
            image_size: 224,
            limit: None,
            test_limit: None,
            seed: 0,
            resize: ResizeMode::Resize,
            augment: Augment::default(),
            schedule: LrSchedule::Constant,
            warmup_epochs: 0.0,
            channels: 1,
            num_classes: None,
        }
    }

    /// AlexNet on a 2-core CPU in minutes. A 224x224 training step costs ~5.6 GFLOP per image,
    /// which at the 18-50 img/s of 2 cores (docs/performance.md) makes one epoch 20-55
    /// minutes. So the images are resized to 96x96: 7x fewer multiply-adds, the same 21 layers
    /// (flatten 256 instead of 6400). One epoch of 938 steps took 4:17 on a 2-core AVX-512
    /// EPYC and 11:33 on an AVX2 one
    /// (docs/results.md); SGD gets momentum 0.9 (the AlexNet paper's value) so that this one
    /// epoch passes 0.80 test accuracy on all 10,000 test images (measured: 0.820), which plain
    /// SGD at lr 0.01 does not reach that early.
    pub fn cpu() -> Self {
        Self { profile: Profile::Cpu, epochs: 1, batch_size: 64, lr: 0.01, momentum: 0.9, image_size: 96, ..Self::d2l() }
    }

    /// The lecture's result on a 2-core CPU: d2l's AlexNet unchanged (21 layers) at 80x80
    /// (flatten 256, as at 96x96: the third pool still sees 3x3), all 60,000 training images for
    /// 4 epochs, batch 64, SGD with momentum 0.9, the learning rate rising linearly to 0.01 over
    /// the first 0.3 epochs and then following half a cosine down to 0 at the end of epoch 4.
    /// Orientation run on a 2-core AVX-512 EPYC (docs/results.md): test accuracy 0.889 after
    /// epoch 3 and 0.893 after epoch 4 on all 10,000 test images, 14:22 wall. 80x80 costs 0.8x
    /// the time of 96x96 per image (fixed costs per layer keep it from the 0.6x of the FLOPs);
    /// 96x96 with the same schedule over 3 epochs reached 0.884. The lecture trains 10 epochs at
    /// 224x224 with plain SGD at a constant 0.01 on a GPU.
    pub fn cpu_full() -> Self {
        Self { profile: Profile::CpuFull, epochs: 4, image_size: 80, schedule: LrSchedule::Cosine, warmup_epochs: 0.3, ..Self::cpu() }
    }

    /// A few minutes: AlexNet at 67x67 (just above its 65 minimum; ~half the multiply-adds of
    /// 96x96), batch 64, momentum 0.9, one epoch over the first 12,000 training images, tested
    /// on all 10,000. For quick experiments (the notebooks' committed outputs use `cpu-full`).
    pub fn quick() -> Self {
        Self { profile: Profile::Quick, image_size: 67, limit: Some(12_000), ..Self::cpu() }
    }

    /// A few seconds: AlexNet at 67x67 (just above its 65 minimum) on 512 + 256 examples.
    pub fn smoke() -> Self {
        Self {
            profile: Profile::Smoke,
            epochs: 2,
            batch_size: 32,
            lr: 0.01,
            momentum: 0.9,
            image_size: 67,
            limit: Some(512),
            test_limit: Some(256),
            ..Self::d2l()
        }
    }

    /// The recipe for another model: a LeNet in an AlexNet profile (or the reverse) gets its
    /// own default image size; another AlexNet (`alexnet-small`, ...) keeps the profile's (set
    /// `image_size` after this to choose one).
    pub fn with_model(mut self, model: ModelKind) -> Self {
        if model.name() != self.model.name() {
            self.image_size = model.default_input()[1];
        }
        self.model = model;
        self
    }

    /// Where a run of this config goes unless told otherwise: `runs/<model>-<profile>`.
    pub fn default_run_dir(&self) -> PathBuf {
        PathBuf::from("runs").join(format!("{}-{}", self.model, self.profile))
    }

    /// The optimiser's part of the recipe.
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig { lr: self.lr, momentum: self.momentum, weight_decay: self.weight_decay }
    }

    /// The `(c, h, w)` of one example the model sees.
    pub fn input(&self) -> [usize; 3] {
        [self.channels, self.image_size, self.image_size]
    }

    /// The model's layers for this recipe (its input and number of classes).
    pub fn specs(&self) -> Result<Vec<crate::nn::LayerSpec>> {
        self.model.config_for(self.input(), self.num_classes)?.layer_specs()
    }

    /// The recipe for training on `data`: its channels, and its number of classes (kept as the
    /// model's own when they agree, so Fashion-MNIST's checkpoints stay as they were).
    pub fn fit_to(mut self, data: &dyn Dataset) -> Self {
        self.channels = data.channels();
        let n = data.num_classes();
        self.num_classes = (n != self.model.default_classes()).then_some(n);
        self
    }

    /// Checks every value a user can set, naming the problem and the fix.
    pub fn validate(&self) -> Result<()> {
        self.validate_recipe()?;
        // Image too small for the model: checked by building its layer list.
        self.specs()?;
        Ok(())
    }

    /// [`TrainConfig::validate`] without the model: what [`super::Trainer::fit`] checks, whose
    /// network and loaders come built.
    pub(crate) fn validate_recipe(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "epochs must be at least 1 (e.g. 10)"));
        }
        check_batch_size(self.batch_size)?;
        self.sgd().validate()?;
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0 && self.warmup_epochs < self.epochs as f64) {
            return Err(Error::invalid("warmup_epochs", format!(
                "warm-up must last from 0 to fewer than the {} epochs, got {} (e.g. 0.5)",
                self.epochs, self.warmup_epochs
            )));
        }
        if self.limit == Some(0) {
            return Err(Error::invalid("limit", "the limit on training examples must be at least 1"));
        }
        if self.test_limit == Some(0) {
            return Err(Error::invalid("test_limit", "the limit on test examples must be at least 1"));
        }
        Ok(())
    }

    /// The learning rate of step `step` (0-based) of epoch `epoch` (0-based), with `steps` steps
    /// per epoch: a linear warm-up over `warmup_epochs` reaching `lr` at its end, then `lr`
    /// (constant) or half a cosine down to 0 at the end of epoch `epochs` (cosine). A function of
    /// the position alone, so a resumed run continues the schedule where it stopped.
    ///
    /// ```
    /// use alexnet_lab::train::{LrSchedule, TrainConfig};
    /// let c = TrainConfig { epochs: 4, lr: 0.1, warmup_epochs: 1.0, schedule: LrSchedule::Cosine, ..TrainConfig::smoke() };
    /// assert!((c.lr_at(0, 0, 10) - 0.01).abs() < 1e-12);  // the first warm-up step
    /// assert!((c.lr_at(1, 0, 10) - 0.1).abs() < 1e-12);   // the peak
    /// assert!((c.lr_at(2, 5, 10) - 0.05).abs() < 1e-12);  // half-way down the cosine
    /// assert!(c.lr_at(3, 9, 10) > 0.0 && c.lr_at(3, 9, 10) < 0.001);
    /// ```
    pub fn lr_at(&self, epoch: usize, step: usize, steps: usize) -> f64 {
        let steps = steps.max(1) as f64;
        let t = epoch as f64 + step as f64 / steps;
        let w = self.warmup_epochs;
        if w > 0.0 && t < w {
            return self.lr * ((t + 1.0 / steps) / w).min(1.0);
        }
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let progress = ((t - w) / (self.epochs as f64 - w).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    pub fn pipeline(&self, train: bool) -> Pipeline {
        Pipeline {
            size: self.image_size,
            mode: self.resize,
            augment: if train { self.augment } else { Augment::default() },
        }
    }

    /// The training loader (shuffled with the run's seed) and the test loader over `data`,
    /// each limited as the config says.
    pub fn loaders(&self, data: FashionMnist) -> Result<(DataLoader, DataLoader)> {
        self.loaders_over(Arc::new(data.train), Arc::new(data.test))
    }

    /// [`TrainConfig::loaders`] over any train and test [`Dataset`]s.
    pub(crate) fn loaders_over(&self, train: Arc<dyn Dataset>, test: Arc<dyn Dataset>) -> Result<(DataLoader, DataLoader)> {
        if train.channels() != self.channels || test.channels() != self.channels {
            return Err(Error::config(format!(
                "the data has {} channels (test: {}), the recipe {}: build the recipe with fit_to(data)",
                train.channels(),
                test.channels(),
                self.channels
            )));
        }
        Ok((
            DataLoader::over(limited(train, self.limit), LoaderConfig::shuffled(self.batch_size, self.pipeline(true), self.seed))?,
            DataLoader::over(limited(test, self.test_limit), LoaderConfig::in_order(self.batch_size, self.pipeline(false)))?,
        ))
    }
}

impl std::fmt::Display for TrainConfig {
    /// `profile quick: AlexNet 67x67, 1 epoch, batch 64, lr 0.01, momentum 0.9, 12000 train / all test images`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |l: Option<usize>| l.map_or("all".to_string(), |n| n.to_string());
        write!(
            f,
            "profile {}: {} {}{s}x{s}, {} epoch{}, batch {}, lr {}{}, momentum {}, {} train / {} test images{}",
            self.profile,
            self.model.label(),
            match (self.channels, self.num_classes) {
                (1, None) => String::new(),
                (c, k) => format!("{c}-channel, {} classes, ", k.unwrap_or_else(|| self.model.default_classes())),
            },
            self.epochs,
            if self.epochs == 1 { "" } else { "s" },
            self.batch_size,
            crate::error::num(self.lr),
            match (self.schedule, self.warmup_epochs > 0.0) {
                (LrSchedule::Constant, false) => String::new(),
                (sched, _) => format!(" ({sched}, {} warm-up epochs)", crate::error::num(self.warmup_epochs)),
            },
            crate::error::num(self.momentum),
            count(self.limit),
            count(self.test_limit),
            match (self.augment.random_crop, self.augment.hflip) {
                (false, false) => "",
                (true, false) => ", augmented: random crops",
                (false, true) => ", augmented: left-right flips",
                (true, true) => ", augmented: random crops and left-right flips",
            },
            s = self.image_size,
        )
    }
}

impl TrainConfig {
    pub fn evcxr_display(&self) {
        crate::report::display::text(&self.to_string());
    }
}
