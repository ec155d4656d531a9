//! Fashion-MNIST: from the Hugging Face hub (parquet, cached the hub's way under `HF_HOME`)
//! or from the four classic IDX `.gz` files. Both give the same bytes in the same order.
//!
//! Images are kept as 28x28 `u8` (47 MB for all 70,000); tensors of the size the model wants
//! are made batch by batch by the [`crate::loader`], so memory stays bounded at any resolution.

mod footer;
mod hub;
mod idx;

pub use hub::{decode_png, hub_cache_dir, hub_cache_display, load_parquet, parquet_bytes_to_split, Hub, DEFAULT_ENDPOINT, HUB_FILES, HUB_REPO, HUB_REVISION};
pub use idx::{decode_images, decode_labels, gunzip, load_idx_dir, parse_idx, read_idx_images, read_idx_labels, IDX_FILES};

use std::path::PathBuf;

use crate::{Error, Result};

/// Side of a Fashion-MNIST image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// The ten classes, in label order (d2l's `get_fashion_mnist_labels`).
pub const CLASS_NAMES: [&str; 10] =
    ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];

/// Name of a label (0-9), or an error naming the valid range.
pub fn class_name(label: usize) -> Result<&'static str> {
    CLASS_NAMES
        .get(label)
        .copied()
        .ok_or_else(|| Error::data(format!("label {label} is outside 0-9 (Fashion-MNIST has 10 classes)")))
}

/// One split: `n` greyscale 28x28 images (row-major, 0 = black) and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    /// Checks sizes and labels; `what` names the source in errors.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, what: &str) -> Result<Self> {
        let split = Self { images, labels };
        split.check(what)?;
        Ok(split)
    }

    /// What [`Split::new`] checks, for a split built from its public fields.
    pub fn check(&self, what: &str) -> Result<()> {
        let (images, labels) = (&self.images, &self.labels);
        if images.len() != labels.len() * PIXELS {
            return Err(Error::data(format!(
                "{what}: {} image bytes for {} labels; expected {} (28x28 per image)",
                images.len(),
                labels.len(),
                labels.len() * PIXELS
            )));
        }
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(Error::data(format!("{what}: label {l} of example {i} is outside 0-9")));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of example `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The first `n` examples (all when `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self { images: self.images[..n * PIXELS].to_vec(), labels: self.labels[..n].to_vec() }
    }

    /// Examples per class, in label order.
    pub fn class_counts(&self) -> [usize; 10] {
        let mut c = [0; 10];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The hub dataset `zalando-datasets/fashion_mnist` (downloaded once, then cached).
    Hub,
    /// A directory with the four IDX `.gz` files.
    IdxDir(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hub => write!(f, "hub {HUB_REPO} (cache {})", hub::hub_cache_display()),
            Source::IdxDir(d) => write!(f, "IDX files in {}", d.display()),
        }
    }
}

/// Train and test splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FashionMnist {
    pub train: Split,
    pub test: Split,
}

impl FashionMnist {
    /// Loads both splits from `source`.
    pub fn load(source: &Source) -> Result<Self> {
        match source {
            Source::Hub => {
                let paths = hub::fetch(&HUB_FILES)?;
                let (train, test) = match paths.as_slice() {
                    [train, test] => (train, test),
                    _ => return Err(Error::data("the hub fetch returned the wrong number of files")),
                };
                Ok(Self { train: load_parquet(train)?, test: load_parquet(test)? })
            }
            Source::IdxDir(dir) => load_idx_dir(dir),
        }
    }

    /// Loads the test split only (what evaluation and prediction need; nothing of the training
    /// split is read or downloaded).
    pub fn load_test(source: &Source) -> Result<Split> {
        match source {
            Source::Hub => {
                let paths = hub::fetch(&HUB_FILES[1..])?;
                let test = paths.first().ok_or_else(|| Error::data("the hub fetch returned no file"))?;
                load_parquet(test)
            }
            Source::IdxDir(dir) => idx::load_idx_test(dir),
        }
    }

    /// `--data-dir` if given, else the hub.
    pub fn source(data_dir: Option<PathBuf>) -> Source {
        data_dir.map(Source::IdxDir).unwrap_or(Source::Hub)
    }
}
