//! The `alexnet-lab` command line: the lab's jobs from a terminal.

use std::path::PathBuf;

use anyhow::{bail, Result};
use candle_core::Device;
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
    /// Preset: d2l (the lecture's GPU run), cpu (minutes on a CPU), quick, smoke (seconds),
    /// lenet (d2l's LeNet run).
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
        // LeNet in an AlexNet profile trains on its own 28x28 unless --image-size says otherwise.
        if self.image_size.is_none() && c.model == crate::ModelKind::LeNet && TrainConfig::for_profile(profile).model != c.model {
            c.image_size = c.model.default_input()[1];
        }
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
    /// Classify photos (PNG, JPEG, WebP; files or folders) with a checkpoint, any size and aspect.
    Predict {
        /// Run folder (or any file in it, e.g. its checkpoint.json).
        #[arg(long)]
        checkpoint: PathBuf,
        /// How a non-square photo becomes square: crop (shorter side to the model's size, centre
        /// square; the default: best on notebook 06's non-square frames and what the lecture
        /// recommends), resize (squash, as training did on square images), letterbox (pad).
        #[arg(long, value_enum, default_value = "crop")]
        resize: ResizeMode,
        /// Invert grey levels (Fashion-MNIST is light clothing on black; photos are usually the reverse).
        #[arg(long)]
        invert: bool,
        /// How many of the most probable classes to report per image.
        #[arg(long, default_value_t = 3)]
        top_k: usize,
        /// table (one line per image), csv or json (one record per image and rank).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also save a PNG of what resize, crop and letterbox feed the network for each image.
        #[arg(long, value_name = "FILE.png")]
        show_pipelines: Option<PathBuf>,
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Image files and folders (searched recursively for image files: .png, .jpg, .jpeg,
        /// .webp are read; other image formats found there are reported).
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
            let out_dir = opts.out.clone();
            #[cfg(unix)]
            stop_on_ctrl_c()?;
            let summary = match train::run(&opts) {
                Err(crate::Error::Interrupted { epoch, step, epochs_done }) => {
                    eprintln!("\ninterrupted (Ctrl-C) in epoch {epoch} after {step} steps.");
                    if epochs_done > 0 {
                        eprintln!("The checkpoint of epoch {epochs_done} in {} is complete and kept.", out_dir.display());
                    } else {
                        eprintln!("No epoch was complete, so nothing was saved in {}.", out_dir.display());
                    }
                    eprintln!("Continue with:\n  {}", resume_command());
                    return Err(crate::Error::Interrupted { epoch, step, epochs_done }.into());
                }
                other => other?,
            };
            println!("{}", summary.history.final_lines());
            println!("run folder: {} (checkpoint, metrics.csv, curve.csv, curve.svg)", summary.out.display());
        }
        Command::Eval { checkpoint: path, limit, batch_size, device, data } => {
            let device = parse_device(&device)?;
            let (net, _, meta) = checkpoint::load_model(&path, &device)?;
            let test = FashionMnist::load_test(&FashionMnist::source(data.data_dir))?;
            let test = std::sync::Arc::new(match limit { Some(n) => test.take(n), None => test });
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
                "test acc {:.3} ({} examples, loss {:.3}) after {} epoch{}, on {}",
                ev.accuracy,
                ev.examples,
                ev.loss,
                meta.epoch,
                if meta.epoch == 1 { "" } else { "s" },
                device_name(&device)
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
        Command::Predict { checkpoint: path, resize, invert, top_k, format, show_pipelines, device, images } => {
            predict_cmd(&path, resize, invert, top_k, format, show_pipelines.as_deref(), &device, &images)?
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

#[allow(clippy::too_many_arguments)]
fn predict_cmd(
    checkpoint: &std::path::Path,
    resize: ResizeMode,
    invert: bool,
    top_k: usize,
    format: Format,
    show_pipelines: Option<&std::path::Path>,
    device: &str,
    inputs: &[PathBuf],
) -> Result<()> {
    use crate::predict::{collect_images, read_photo, Predictor};
    if top_k == 0 || top_k > CLASS_NAMES.len() {
        bail!("--top-k must be between 1 and {}, got {top_k}", CLASS_NAMES.len());
    }
    let device = parse_device(device)?;
    let predictor = Predictor::load(checkpoint, resize, invert, &device)?;
    let (files, mut failed) = collect_images(inputs);
    for (_, e) in &failed {
        eprintln!("error: {e}");
    }
    let mut results: Vec<(PathBuf, Vec<crate::predict::Guess>)> = vec![];
    let mut shown = vec![];
    for f in &files {
        let photo = match read_photo(f) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((f.clone(), e));
                continue;
            }
        };
        let top = predictor.classify(&photo, top_k)?;
        if format == Format::Table {
            let guesses: Vec<String> = top.iter().map(|g| format!("{} ({:.1}%)", g.class, 100.0 * g.probability)).collect();
            println!("{}: {}", f.display(), guesses.join(", "));
        }
        if show_pipelines.is_some() {
            shown.push(photo);
        }
        results.push((f.clone(), top));
    }
    match format {
        Format::Table => {}
        Format::Csv => {
            let mut df = crate::predict::to_dataframe(&results)?;
            print!("{}", crate::table::csv_string(&mut df)?);
        }
        Format::Json => {
            let mut records: Vec<serde_json::Value> = results
                .iter()
                .map(|(f, top)| serde_json::json!({ "file": f.display().to_string(), "top": top }))
                .collect();
            records.extend(failed.iter().map(|(f, e)| serde_json::json!({ "file": f.display().to_string(), "error": e.to_string() })));
            println!("{}", serde_json::to_string_pretty(&records)?);
        }
    }
    if let Some(out) = show_pipelines {
        if !shown.is_empty() {
            checkpoint::write_atomic(out, &crate::predict::pipelines_png(&predictor, &shown)?)?;
            eprintln!("wrote {} (each row: the image, then what resize, crop, letterbox feed the network)", out.display());
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} inputs could not be classified (see the errors above)", failed.len(), results.len() + failed.len());
    }
    Ok(())
}

/// The command line of this process with `--resume` (added if missing), quoted for a shell.
pub fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    let quote = |a: &String| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    args.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// The first Ctrl-C asks the training loop to stop at the next step boundary (the last complete
/// checkpoint is kept); a second one ends the process at once (exit 130).
#[cfg(unix)]
fn stop_on_ctrl_c() -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PRESSED: AtomicBool = AtomicBool::new(false);
    let action = || {
        if PRESSED.swap(true, Ordering::SeqCst) {
            signal_hook::low_level::exit(130);
        }
        train::request_stop();
    };
    // SAFETY: the action only touches atomics and calls `_exit` (async-signal-safe).
    unsafe { signal_hook::low_level::register(signal_hook::consts::SIGINT, action) }?;
    Ok(())
}
