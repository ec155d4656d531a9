//! The `alexnet-lab` command line: the lab's jobs from a terminal.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor, D};
use clap::{Parser, Subcommand, ValueEnum};

use crate::checkpoint;
use crate::data::{FashionMnist, CLASS_NAMES, SIDE};
use crate::device::{device_name, parse_device};
use crate::train::{self, Profile, RunOptions, TrainConfig};
use crate::transforms::{Augment, Pipeline, ResizeMode};

use crate::complexity::{lecture, Complexity};
use crate::models::ModelKind;
use crate::shapes;

#[derive(Parser, Debug)]
#[command(name = "alexnet-lab", version, about = "AlexNet lab: models, complexity, shapes (d2l 7.1 in Rust)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

fn parse_input(s: &str) -> std::result::Result<[usize; 3], String> {
    crate::parse_chw(s).map_err(|e| e.to_string())
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Which network.
    #[arg(long, value_enum, default_value = "alexnet")]
    pub model: ModelKind,
    /// Input shape of one example, CxHxW (default: the model's own, e.g. 1x224x224).
    #[arg(long, value_parser = parse_input)]
    pub input: Option<[usize; 3]>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Read the four classic IDX .gz files from DIR instead of the hub
    /// (e.g. ../shared/data/fashion-mnist).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Where the data comes from, split sizes and examples per class.
    Info {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Save a grid of N images with their labels (SVG with labels, or PNG).
    Show {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value_t = 18)]
        n: usize,
        #[arg(long, value_enum, default_value = "test")]
        split: SplitName,
        /// Output file (.svg or .png).
        #[arg(long, default_value = "fashion_mnist.svg")]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitName {
    Train,
    Test,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Preset: d2l (the lecture's GPU run), cpu (minutes on a CPU), smoke (seconds).
    /// Default: d2l when the device is a GPU, cpu otherwise.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    #[arg(long, value_enum)]
    pub model: Option<crate::models::ModelKind>,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Height = width of the images fed to the model (Fashion-MNIST's 28x28 are resized).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Train on the first N training examples only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Evaluate on the first N test examples only.
    #[arg(long)]
    pub test_limit: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// How images become square: resize (d2l), crop, letterbox.
    #[arg(long, value_enum)]
    pub resize: Option<ResizeMode>,
    /// AlexNet-paper augmentation: random crops.
    #[arg(long)]
    pub random_crop: bool,
    /// AlexNet-paper augmentation: horizontal flips.
    #[arg(long)]
    pub hflip: bool,
    /// auto (GPU if there is one), cpu, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Run folder for checkpoint, metrics and curve (default runs/<model>-<profile>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the checkpoint in --out, from its last complete epoch.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

impl TrainArgs {
    /// The profile's config with every given flag applied.
    pub fn config(&self, device: &Device) -> TrainConfig {
        let profile = self.profile.unwrap_or(if device.is_cuda() { Profile::D2l } else { Profile::Cpu });
        let mut c = TrainConfig::for_profile(profile);
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v; } )* };
        }
        set!(model, epochs, batch_size, lr, momentum, weight_decay, image_size, seed, resize);
        if self.limit.is_some() {
            c.limit = self.limit;
        }
        if self.test_limit.is_some() {
            c.test_limit = self.test_limit;
        }
        c.augment = Augment { random_crop: self.random_crop || c.augment.random_crop, hflip: self.hflip || c.augment.hflip };
        c
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fashion-MNIST: info and a picture of samples.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Train a model the way d2l's train_ch6 does; writes a run folder.
    Train(Box<TrainArgs>),
    /// Test accuracy of a checkpoint (eval mode), overall and per class.
    Eval {
        /// Run folder (or any file in it, e.g. its checkpoint.json).
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        #[arg(long, default_value = "auto")]
        device: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Images per second of a forward pass or a training step (warm-up, repeats, median).
    Bench {
        #[arg(long, value_enum, default_value = "alexnet")]
        model: crate::models::ModelKind,
        #[arg(long, value_enum, default_value = "train")]
        mode: crate::bench::Mode,
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        #[arg(long, default_value_t = 224)]
        image_size: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Batch size vs memory: predicted and measured memory and time of a training step per
    /// batch size, stopping at the first batch size that does not fit.
    Memory {
        #[arg(long, value_enum, default_value = "alexnet")]
        model: crate::models::ModelKind,
        #[arg(long, default_value_t = 224)]
        image_size: usize,
        /// Comma-separated batch sizes, tried in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "8,16,32,64,128,256,512,1024")]
        batch_sizes: Vec<usize>,
        /// CPU memory budget (e.g. 6G); default: $ALEXNET_LAB_MEMORY_BUDGET, else 80% of available memory.
        #[arg(long)]
        budget: Option<String>,
        #[arg(long, default_value_t = 2)]
        steps: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Also draw predicted vs measured memory into this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Classify image files of any size and aspect with a checkpoint.
    Predict {
        #[arg(long)]
        checkpoint: PathBuf,
        /// How a non-square image becomes square.
        #[arg(long, value_enum, default_value = "resize")]
        resize: ResizeMode,
        /// Invert grey levels (Fashion-MNIST is light clothing on black; photos are usually the reverse).
        #[arg(long)]
        invert: bool,
        #[arg(long, default_value = "cpu")]
        device: String,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// The lecture's shape walk: each layer's output shape for one random input.
    Shapes {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Parameters, multiply-adds and FLOPs per layer, with totals.
    Complexity {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also print the lecture's complexity table beside the computed one.
        #[arg(long)]
        compare_lecture: bool,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Data { command } => data_cmd(command)?,
        Command::Bench { model, mode, batch_size, image_size, warmup, repeats, device, json } => {
            let device = parse_device(&device)?;
            let r = crate::bench::run(model, mode, batch_size, image_size, warmup, repeats, &device)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{r}");
            }
        }
        Command::Memory { model, image_size, batch_sizes, budget, steps, device, plot } => {
            let device = parse_device(&device)?;
            let budget_bytes = match budget {
                Some(b) => crate::memory::parse_bytes(&b)?,
                None => crate::memory::default_budget()?,
            };
            if device.is_cpu() {
                println!("memory budget {} (CPU: a batch size predicted above it is not run)", crate::memory::gb(budget_bytes));
            }
            let cfg = crate::memory::SweepConfig { model, image_size, batch_sizes, budget_bytes, steps };
            let points = crate::memory::sweep(&cfg, &device, |p| {
                let (mb, secs) = (p.measured_bytes.map(crate::memory::gb), p.seconds_per_step);
                match &p.error {
                    None => eprintln!("batch {}: {} measured, {:.3} s/step", p.batch_size, mb.unwrap_or("-".into()), secs.unwrap_or(0.0)),
                    Some(e) => eprintln!("batch {}: {e}", p.batch_size),
                }
            })?;
            print!("{}", crate::memory::render(&points));
            if let Some(path) = plot {
                let svg = crate::memory::plot_svg(&points, &format!("{model:?} training step at {image_size}x{image_size}"))?;
                crate::checkpoint::write_atomic(&path, svg.as_bytes())?;
                println!("wrote {}", path.display());
            }
        }
        Command::Train(args) => {
            let device = parse_device(&args.device)?;
            let config = args.config(&device);
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(format!(
                    "{}-{}",
                    serde_json::to_value(config.model).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                    serde_json::to_value(config.profile).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                ))
            });
            let opts = RunOptions {
                config,
                device,
                source: FashionMnist::source(args.data.data_dir.clone()),
                out,
                resume: args.resume,
                progress: !args.quiet,
            };
            let summary = train::run(&opts)?;
            println!("{}", summary.history.final_lines());
            println!("run folder: {} (checkpoint, metrics.csv, curve.csv, curve.svg)", summary.out.display());
        }
        Command::Eval { checkpoint: path, limit, batch_size, device, data } => {
            let device = parse_device(&device)?;
            let (net, _, meta) = checkpoint::load_model(&path, &device)?;
            let d = FashionMnist::load(&FashionMnist::source(data.data_dir))?;
            let test = std::sync::Arc::new(match limit { Some(n) => d.test.take(n), None => d.test });
            let cfg = crate::loader::LoaderConfig {
                batch_size,
                shuffle: false,
                seed: 0,
                pipeline: Pipeline { size: meta.input[1], mode: meta.config.resize, augment: Augment::default() },
                prefetch: 2,
            };
            let loader = crate::loader::DataLoader::new(test, cfg)?;
            let ev = train::evaluate(&net, &loader, &device, true)?;
            println!(
                "test acc {:.3} ({} examples, loss {:.3}) after {} epochs, on {}",
                ev.accuracy, ev.examples, ev.loss, meta.epoch, device_name(&device)
            );
            let mut rows = vec![];
            for (k, name) in CLASS_NAMES.iter().enumerate() {
                let idx: Vec<usize> = (0..ev.labels.len()).filter(|&i| ev.labels[i] as usize == k).collect();
                let right = idx.iter().filter(|&&i| ev.predictions[i] as usize == k).count();
                if !idx.is_empty() {
                    rows.push(vec![name.to_string(), idx.len().to_string(), format!("{:.3}", right as f64 / idx.len() as f64)]);
                }
            }
            print!("{}", crate::table::render(&["class", ">examples", ">accuracy"], &rows));
        }
        Command::Predict { checkpoint: path, resize, invert, device, images } => {
            let device = parse_device(&device)?;
            let (net, _, meta) = checkpoint::load_model(&path, &device)?;
            let size = meta.input[1];
            let pipe = Pipeline { size, mode: resize, augment: Augment::default() };
            let mut rng = rand::rng();
            for p in &images {
                let img = image::open(p)
                    .with_context(|| format!("cannot read image {} (PNG or JPEG expected)", p.display()))?;
                let mut g = img.into_luma8();
                if invert {
                    image::imageops::invert(&mut g);
                }
                let mut px = Vec::with_capacity(size * size);
                pipe.apply_into(&g, &mut rng, &mut px);
                let x = Tensor::from_vec(px, (1, 1, size, size), &device)?;
                let probs = candle_nn::ops::softmax(&net.forward(&x, false)?, D::Minus1)?.squeeze(0)?;
                let k = probs.argmax(0)?.to_scalar::<u32>()? as usize;
                let pk = probs.get(k)?.to_scalar::<f32>()?;
                println!("{}: {} ({:.1}%)", p.display(), CLASS_NAMES[k], 100.0 * pk);
            }
        }
        Command::Shapes { model, format } => {
            let (net, _) = model.model.init(model.input, 0, &Device::Cpu)?;
            let steps = shapes::walk_random(&net, 0)?;
            match format {
                Format::Table => print!("{}", shapes::render(&steps)),
                Format::Csv => {
                    println!("index,layer,output_shape");
                    for s in &steps {
                        let shape = s.output_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
                        println!("{},{},{}", s.index, s.layer, shape);
                    }
                }
                Format::Json => println!("{}", serde_json::to_string_pretty(&steps)?),
            }
        }
        Command::Complexity { model, format, compare_lecture } => {
            let input = model.input.unwrap_or_else(|| model.model.default_input());
            let (net, _) = model.model.init(Some(input), 0, &Device::Cpu)?;
            let c = Complexity::of(&net)?;
            match format {
                Format::Table => print!("{}", c.to_table()),
                Format::Csv => print!("{}", c.to_csv()),
                Format::Json if compare_lecture => {
                    let cmp = lecture::compare_default()?;
                    println!("{}", serde_json::json!({ "complexity": c, "lecture_comparison": cmp }));
                }
                Format::Json => println!("{}", c.to_json()),
            }
            if compare_lecture && format != Format::Json {
                println!("\nThe lecture's table beside the computed one (d2l AlexNet, 224x224):");
                print!("{}", lecture::render_comparison(&lecture::compare_default()?));
            }
        }
    }
    Ok(())
}

fn data_cmd(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Info { data } => {
            let source = FashionMnist::source(data.data_dir);
            let d = FashionMnist::load(&source)?;
            println!("Fashion-MNIST from {source}");
            println!("train: {} images, test: {} images, {SIDE}x{SIDE} greyscale", d.train.len(), d.test.len());
            let (tr, te) = (d.train.class_counts(), d.test.class_counts());
            let rows: Vec<Vec<String>> = CLASS_NAMES
                .iter()
                .enumerate()
                .map(|(k, n)| vec![k.to_string(), n.to_string(), tr[k].to_string(), te[k].to_string()])
                .collect();
            print!("{}", crate::table::render(&[">label", "class", ">train", ">test"], &rows));
        }
        DataCommand::Show { data, n, split, out } => {
            if n == 0 {
                bail!("--n must be at least 1");
            }
            let d = FashionMnist::load(&FashionMnist::source(data.data_dir))?;
            let s = if split == SplitName::Train { &d.train } else { &d.test };
            let n = n.min(s.len());
            let imgs: Vec<(&[u8], usize, usize)> = (0..n).map(|i| (s.image(i), SIDE, SIDE)).collect();
            let titles: Vec<String> = (0..n).map(|i| CLASS_NAMES[s.labels[i] as usize].to_string()).collect();
            let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            let bytes = match ext.as_str() {
                "svg" => crate::plot::image_grid_svg(&imgs, &titles, 9, 84)?.into_bytes(),
                "png" => crate::plot::image_grid_png(&imgs, 9, 2)?,
                _ => bail!("--out {}: use a .svg or .png file name", out.display()),
            };
            checkpoint::write_atomic(&out, &bytes)?;
            println!("{n} {split:?} images -> {}", out.display());
            println!("labels: {}", titles.join(", "));
        }
    }
    Ok(())
}
