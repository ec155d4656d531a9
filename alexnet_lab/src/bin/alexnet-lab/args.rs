//! The command line, declared with clap. The library's enums carry no clap derives: their
//! names come from the library (`NAMES`, `FromStr`).

use std::path::PathBuf;

use alexnet_lab::candle::Device;
use alexnet_lab::data::{Augment, ResizeMode};
use alexnet_lab::nn::ModelKind;
use alexnet_lab::train::bench::Mode;
use alexnet_lab::train::{LrSchedule, Profile, TrainConfig};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

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
    alexnet_lab::parse_chw(s).map_err(|e| e.to_string())
}

/// A value parser for one of the library's named enums: clap lists `T::NAMES` in the help and
/// in errors, the library's `FromStr` makes the value.
fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = alexnet_lab::Error> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Which network.
    #[arg(long, value_parser = named::<ModelKind>(ModelKind::NAMES), default_value = "alexnet")]
    pub model: ModelKind,
    /// Input shape of one example, CxHxW (default: the model's own, e.g. 1x224x224).
    #[arg(long, value_parser = parse_input)]
    pub input: Option<[usize; 3]>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Read the data from DIR instead of the hub: the four classic IDX .gz files of
    /// Fashion-MNIST (e.g. ../shared/data/fashion-mnist), or your own images with one
    /// sub-folder per class (DIR/cat/1.jpg, DIR/dog/2.png; DIR/train/.. and DIR/test/.. if you
    /// have a test split, else every fifth image of each class is held out for testing).
    #[arg(long, value_name = "DIR", conflicts_with = "hub_dataset")]
    pub data_dir: Option<PathBuf>,
    /// Use another image-classification dataset of the Hugging Face hub, in parquet (an image
    /// column and a label column; class names from its ClassLabel feature), downloaded into the
    /// hub cache once, e.g. --hub-dataset ORG/NAME.
    #[arg(long, value_name = "ORG/NAME")]
    pub hub_dataset: Option<String>,
    /// Channels an image folder's photos become: 1 (grey) or 3 (RGB). Default: 3 when any
    /// image stores colour, else 1. Fashion-MNIST is grey.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3))]
    pub channels: Option<u64>,
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
    /// Preset: d2l (the lecture's GPU run), cpu (minutes on a CPU), cpu-full (the lecture's
    /// accuracy on a 2-core CPU), quick, smoke (seconds), lenet (d2l's LeNet run).
    /// Default: d2l when the device is a GPU, cpu otherwise.
    #[arg(long, value_parser = named::<Profile>(Profile::NAMES))]
    pub profile: Option<Profile>,
    #[arg(long, value_parser = named::<ModelKind>(ModelKind::NAMES))]
    pub model: Option<ModelKind>,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// How the learning rate moves after the warm-up: constant (d2l) or cosine (down to 0 at
    /// the end of the last epoch; --lr is its peak).
    #[arg(long, value_parser = named::<LrSchedule>(LrSchedule::NAMES))]
    pub schedule: Option<LrSchedule>,
    /// Epochs of linear warm-up to --lr (e.g. 0.5).
    #[arg(long, allow_negative_numbers = true)]
    pub warmup_epochs: Option<f64>,
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
    #[arg(long, value_parser = named::<ResizeMode>(ResizeMode::NAMES))]
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
    /// The profile's config (default: the device's) with every given flag applied.
    pub fn config(&self, device: &Device) -> TrainConfig {
        let mut c = TrainConfig::for_profile(self.profile.unwrap_or(Profile::default_for(device)));
        if let Some(m) = self.model {
            c = c.with_model(m);
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v; } )* };
        }
        set!(epochs, batch_size, lr, schedule, warmup_epochs, momentum, weight_decay, image_size, seed, resize);
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
    /// The training profiles and their recipes (one profile's recipe as JSON with --json).
    Profiles {
        #[arg(value_parser = named::<Profile>(Profile::NAMES))]
        profile: Option<Profile>,
        #[arg(long)]
        json: bool,
    },
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
    /// Every op of the GPU path, forward and backward, against the CPU ops at AlexNet's shapes
    /// and odd ones; exits 1 on a mismatch. Math and algorithms: ALEXNET_LAB_CUDA_MATH=tf32|fp32,
    /// ALEXNET_LAB_CUDNN_ALGOS=deterministic|fastest.
    GpuCheck {
        #[arg(long, default_value = "cuda:0")]
        device: String,
    },
    /// Images per second of a forward pass or a training step (warm-up, repeats, median).
    Bench {
        #[arg(long, value_parser = named::<ModelKind>(ModelKind::NAMES), default_value = "alexnet")]
        model: ModelKind,
        #[arg(long, value_parser = named::<Mode>(Mode::NAMES), default_value = "train")]
        mode: Mode,
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
        #[arg(long, value_parser = named::<ModelKind>(ModelKind::NAMES), default_value = "alexnet")]
        model: ModelKind,
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
    /// Train the runs of notebook 07 (the chapter's exercises) at their recorded sizes, each
    /// into OUT/<name>; a finished run is left as it is. Without names: all of them.
    Exercises {
        /// Experiment names (see --list); default: all.
        names: Vec<String>,
        /// Folder of the run folders.
        #[arg(long, default_value = "runs/exercises")]
        out: PathBuf,
        /// List the experiments and their recipes, train nothing.
        #[arg(long)]
        list: bool,
        #[arg(long, default_value = "auto")]
        device: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Classify photos (PNG, JPEG, WebP; files or folders) with a checkpoint, any size and aspect.
    Predict {
        /// Run folder (or any file in it, e.g. its checkpoint.json).
        #[arg(long)]
        checkpoint: PathBuf,
        /// How a non-square photo becomes square: crop (shorter side to the model's size, centre
        /// square; the default: best on notebook 06's non-square frames and what the lecture
        /// recommends), resize (squash, as training did on square images), letterbox (pad).
        #[arg(long, value_parser = named::<ResizeMode>(ResizeMode::NAMES), default_value = "crop")]
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

