//! The data a model trains on, as a [`Dataset`]: Fashion-MNIST from the Hugging Face hub
//! (parquet, cached the hub's way under `HF_HOME`) or from the four classic IDX `.gz` files
//! (both give the same bytes in the same order), or a learner's own images in class folders
//! ([`ImageFolder`]).
//!
//! Images are kept as 28x28 `u8` (47 MB for all 70,000); tensors of the size the model wants
//! are made batch by batch by the [`loader`], through the [`transforms`], so memory stays
//! bounded at any resolution.
//!
//! - [`dataset`]: the [`Dataset`] trait; [`folder`]: image folders; [`photo`]: reading PNG,
//!   JPEG and WebP files;
//! - [`hub`]: the download and the cache; [`parquet`]: reading a hub file (its structure
//!   checked first); [`idx`]: the classic IDX files;
//! - [`transforms`]: resize, crop, letterbox, augmentation, `ToTensor()`;
//! - [`loader`]: seeded batches prepared in the background; [`load_data_fashion_mnist`], d2l's
//!   one call.

pub mod dataset;
pub mod folder;
pub mod hub;
pub mod idx;
pub mod loader;
pub mod parquet;
pub mod photo;
pub mod transforms;

pub use dataset::{limited, Dataset};
pub use folder::ImageFolder;

pub use hub::{hub_cache_dir, hub_cache_display, Hub, DEFAULT_ENDPOINT, HUB_FILES, HUB_REPO, HUB_REVISION};
pub use idx::{decode_images, decode_labels, gunzip, load_idx_dir, parse_idx, read_idx_images, read_idx_labels, IDX_FILES};
pub use loader::{Batch, DataLoader, LoaderConfig};
pub use parquet::{decode_png, load_parquet, parquet_bytes_to_split};
pub use transforms::{Augment, Pipeline, ResizeMode};

use std::path::PathBuf;
use std::sync::Arc;

use crate::report::display::{Png, Svg};
use crate::report::plot::{image_grid_png, image_grid_svg};

use crate::{Error, Result};

/// Side of a Fashion-MNIST image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Images in Fashion-MNIST's training split.
pub const TRAIN_IMAGES: usize = 60_000;
/// Images in Fashion-MNIST's test split.
pub const TEST_IMAGES: usize = 10_000;

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

/// One split: `n` greyscale 28x28 images (row-major, 0 = black) and their labels 0-9. The
/// fields are private: a `Split` always has 784 bytes per label and labels below 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl Split {
    /// Checks sizes and labels; `what` names the source in errors.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, what: &str) -> Result<Self> {
        let split = Self { images, labels };
        split.check(what)?;
        Ok(split)
    }

    fn check(&self, what: &str) -> Result<()> {
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

    /// All labels, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// All pixels, image after image.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// The 784 pixels of example `i`, or an error naming the split's size.
    pub fn image(&self, i: usize) -> Result<&[u8]> {
        i.checked_mul(PIXELS)
            .and_then(|a| self.images.get(a..a + PIXELS))
            .ok_or_else(|| self.outside(i))
    }

    /// The label of example `i`, or an error naming the split's size.
    pub fn label(&self, i: usize) -> Result<u8> {
        self.labels.get(i).copied().ok_or_else(|| self.outside(i))
    }

    fn outside(&self, i: usize) -> Error {
        Error::data(format!("example {i} is outside the split of {} examples (0 to {})", self.len(), self.len().saturating_sub(1)))
    }

    /// The first `n` examples (all when `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self { images: self.images.iter().take(n * PIXELS).copied().collect(), labels: self.labels.iter().take(n).copied().collect() }
    }

    /// The first `limit` examples when a limit is given, else the whole split (a run's
    /// `--limit` / `--test-limit`).
    pub fn limited(self, limit: Option<usize>) -> Self {
        match limit {
            Some(n) if n < self.len() => self.take(n),
            _ => self,
        }
    }

    /// The first `n` images with their class names above them, `cols` per row, as SVG (each
    /// pixel a rectangle: readable at any zoom).
    pub fn samples_svg(&self, n: usize, cols: usize) -> Result<Svg> {
        let (imgs, titles) = self.samples(n)?;
        image_grid_svg(&imgs, &titles, cols, 84)
    }

    /// The first `n` images, `cols` per row, as one PNG (no titles; [`Split::samples_titles`]).
    pub fn samples_png(&self, n: usize, cols: usize) -> Result<Png> {
        image_grid_png(&self.samples(n)?.0, cols, 2)
    }

    /// The class names of the first `n` examples.
    pub fn samples_titles(&self, n: usize) -> Result<Vec<String>> {
        Ok(self.samples(n)?.1)
    }

    #[allow(clippy::type_complexity)]
    fn samples(&self, n: usize) -> Result<(Vec<(&[u8], usize, usize)>, Vec<String>)> {
        if n == 0 {
            return Err(Error::config("ask for at least 1 image (e.g. --n 18)"));
        }
        let n = n.min(self.len());
        let imgs = (0..n).map(|i| Ok((self.image(i)?, SIDE, SIDE))).collect::<Result<Vec<_>>>()?;
        let titles = (0..n).map(|i| Ok(class_name(self.label(i)? as usize)?.to_string())).collect::<Result<Vec<_>>>()?;
        Ok((imgs, titles))
    }

    /// Examples per class, in label order.
    pub fn class_counts(&self) -> [usize; 10] {
        let mut c = [0; 10];
        for &l in &self.labels {
            if let Some(n) = c.get_mut(l as usize) {
                *n += 1;
            }
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
    /// A learner's images, one sub-folder per class ([`ImageFolder`]).
    ImageFolder(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hub => write!(f, "hub {HUB_REPO} (cache {})", hub::hub_cache_display()),
            Source::IdxDir(d) => write!(f, "IDX files in {}", d.display()),
            Source::ImageFolder(d) => write!(f, "the image folder {}", d.display()),
        }
    }
}

impl Source {
    /// What a folder holds: Fashion-MNIST's IDX files when any of them is there, else class
    /// folders of images when it has sub-folders, else IDX (whose error names the files).
    pub fn from_dir(dir: PathBuf) -> Self {
        let has_idx = IDX_FILES.iter().any(|f| dir.join(f).exists() || dir.join(f.trim_end_matches(".gz")).exists());
        if !has_idx && ImageFolder::looks_like(&dir) { Source::ImageFolder(dir) } else { Source::IdxDir(dir) }
    }

    /// The train and test splits. `channels` (1 or 3) applies to image folders, whose images
    /// otherwise decide (3 when any stores colour); Fashion-MNIST is grey (1 channel) only.
    pub fn splits(&self, channels: Option<usize>) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
        match self {
            Source::ImageFolder(dir) => {
                let (train, test) = ImageFolder::splits(dir, channels)?;
                Ok((Arc::new(train), Arc::new(test)))
            }
            _ => {
                grey_only(channels)?;
                let d = FashionMnist::load(self)?;
                Ok((Arc::new(d.train), Arc::new(d.test)))
            }
        }
    }

    /// The test split only (nothing of Fashion-MNIST's training split is read or downloaded).
    pub fn test_split(&self, channels: Option<usize>) -> Result<Arc<dyn Dataset>> {
        match self {
            Source::ImageFolder(dir) => Ok(Arc::new(ImageFolder::splits(dir, channels)?.1)),
            _ => {
                grey_only(channels)?;
                Ok(Arc::new(FashionMnist::load_test(self)?))
            }
        }
    }
}

fn grey_only(channels: Option<usize>) -> Result<()> {
    match channels {
        None | Some(1) => Ok(()),
        Some(c) => Err(Error::config(format!(
            "Fashion-MNIST is grey (1 channel); {c} channels are for image folders of colour photos"
        ))),
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
            Source::ImageFolder(d) => Err(not_fashion_mnist(d)),
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
            Source::ImageFolder(d) => Err(not_fashion_mnist(d)),
            Source::Hub => {
                let paths = hub::fetch(&[HUB_FILES[1]])?;
                let test = paths.first().ok_or_else(|| Error::data("the hub fetch returned no file"))?;
                load_parquet(test)
            }
            Source::IdxDir(dir) => idx::load_idx_test(dir),
        }
    }

    /// `--data-dir` if given (IDX files or an image folder: [`Source::from_dir`]), else the hub.
    pub fn source(data_dir: Option<PathBuf>) -> Source {
        data_dir.map(Source::from_dir).unwrap_or(Source::Hub)
    }
}

fn not_fashion_mnist(dir: &std::path::Path) -> Error {
    Error::data(format!(
        "{} is an image folder, not Fashion-MNIST: this reads Fashion-MNIST only (image folders train, evaluate and show their classes with `data info`)",
        dir.display()
    ))
}

/// d2l's `load_data_fashion_mnist(batch_size, resize)`: the training loader (shuffled, seed 0)
/// and the test loader (in order) over all of Fashion-MNIST from the hub, images resized to
/// `resize x resize` (`None`: 28x28 as stored).
///
/// ```no_run
/// let (train, test) = alexnet_lab::data::load_data_fashion_mnist(128, Some(224))?;
/// assert_eq!((train.len(), test.len()), (60_000, 10_000));
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub fn load_data_fashion_mnist(batch_size: usize, resize: Option<usize>) -> Result<(DataLoader, DataLoader)> {
    let data = FashionMnist::load(&Source::Hub)?;
    let pipeline = Pipeline::resize(resize.unwrap_or(SIDE));
    Ok((
        DataLoader::new(Arc::new(data.train), LoaderConfig::shuffled(batch_size, pipeline, 0))?,
        DataLoader::new(Arc::new(data.test), LoaderConfig::in_order(batch_size, pipeline))?,
    ))
}
