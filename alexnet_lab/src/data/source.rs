//! Where the data come from ([`Source`]: the hub, IDX files, an image folder) and loading them:
//! Fashion-MNIST's splits ([`FashionMnist::load`]), any source's as [`Dataset`]s
//! ([`Source::splits`]), and d2l's one call [`load_data_fashion_mnist`].

use std::path::PathBuf;
use std::sync::Arc;

use super::dataset::Dataset;
use super::folder::ImageFolder;
use super::hub::{Hub, HUB_FILES};
use super::hub_images::HubImages;
use super::idx::{self, load_idx_dir, IDX_FILES};
use super::loader::{DataLoader, LoaderConfig};
use super::parquet::load_parquet;
use super::split::{FashionMnist, Split, SIDE};
use super::transforms::Pipeline;
use crate::{Error, Result};

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The hub dataset `zalando-datasets/fashion_mnist` (downloaded once, then cached), with
    /// the hub settings to use ([`Source::hub`]: those of the environment).
    Hub(Hub),
    /// A directory with the four IDX `.gz` files.
    IdxDir(PathBuf),
    /// A learner's images, one sub-folder per class ([`ImageFolder`]).
    ImageFolder(PathBuf),
    /// An image-classification dataset of the hub in parquet, the [`Hub::repo`] `ORG/NAME`
    /// ([`HubImages`]; [`Source::hub_dataset`]). A variant of its own beside `Hub`, though both
    /// hold a [`Hub`]: Fashion-MNIST's two files are known in advance (names, sizes, hashes:
    /// [`HUB_FILES`]) and read as 28x28 grey images, another repo's files are discovered and
    /// read as images of any size and colour with its own class names.
    HubDataset(Hub),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hub(h) | Source::HubDataset(h) => write!(f, "hub {} (cache {})", h.repo, h.cache_label),
            Source::IdxDir(d) => write!(f, "IDX files in {}", d.display()),
            Source::ImageFolder(d) => write!(f, "the image folder {}", d.display()),
        }
    }
}

impl Source {
    /// Fashion-MNIST from the hub, with the hub settings of the environment ([`Hub::from_env`]:
    /// `HF_HOME`, `HF_HUB_OFFLINE`, `HF_ENDPOINT`).
    pub fn hub() -> Self {
        Source::Hub(Hub::from_env())
    }

    /// The hub dataset `repo` (`ORG/NAME`), with the hub settings of the environment.
    pub fn hub_dataset(repo: &str) -> Result<Self> {
        Ok(Source::HubDataset(Hub::from_env().for_repo(repo)?))
    }

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
            Source::HubDataset(hub) => {
                let (train, test) = HubImages::splits(hub, channels)?;
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
    pub(crate) fn test_split(&self, channels: Option<usize>) -> Result<Arc<dyn Dataset>> {
        match self {
            Source::ImageFolder(dir) => Ok(Arc::new(ImageFolder::splits(dir, channels)?.1)),
            Source::HubDataset(hub) => {
                let test = HubImages::test_split(hub)?;
                let c = channels.unwrap_or(test.channels());
                Ok(Arc::new(test.with_channels(c)?))
            }
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

impl FashionMnist {
    /// Loads both splits from `source`.
    pub fn load(source: &Source) -> Result<Self> {
        match source {
            Source::ImageFolder(d) => Err(not_fashion_mnist(&d.display().to_string())),
            Source::HubDataset(h) => Err(not_fashion_mnist(&h.repo)),
            Source::Hub(hub) => {
                let paths = hub.fetch(&HUB_FILES)?;
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
            Source::ImageFolder(d) => Err(not_fashion_mnist(&d.display().to_string())),
            Source::HubDataset(h) => Err(not_fashion_mnist(&h.repo)),
            Source::Hub(hub) => {
                let paths = hub.fetch(&[HUB_FILES[1]])?;
                let test = paths.first().ok_or_else(|| Error::data("the hub fetch returned no file"))?;
                load_parquet(test)
            }
            Source::IdxDir(dir) => idx::load_idx_test(dir),
        }
    }

    /// `--data-dir` if given (IDX files or an image folder: [`Source::from_dir`]), else the hub
    /// ([`Source::hub`]).
    pub fn source(data_dir: Option<PathBuf>) -> Source {
        data_dir.map(Source::from_dir).unwrap_or_else(Source::hub)
    }
}

fn not_fashion_mnist(what: &str) -> Error {
    Error::data(format!(
        "{what} is not Fashion-MNIST: this reads Fashion-MNIST only (other datasets train, evaluate and show their classes with `data info`)"
    ))
}

/// d2l's `load_data_fashion_mnist(batch_size, resize)`: the training loader (shuffled, seed 0)
/// and the test loader (in order) over all of Fashion-MNIST from the hub ([`Source::hub`]: the
/// hub settings of the environment, as d2l's call takes none), images resized to
/// `resize x resize` (`None`: 28x28 as stored).
///
/// ```no_run
/// let (train, test) = alexnet_lab::data::load_data_fashion_mnist(128, Some(224))?;
/// assert_eq!((train.len(), test.len()), (60_000, 10_000));
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub fn load_data_fashion_mnist(batch_size: usize, resize: Option<usize>) -> Result<(DataLoader, DataLoader)> {
    let data = FashionMnist::load(&Source::hub())?;
    let pipeline = Pipeline::resize(resize.unwrap_or(SIDE));
    Ok((
        DataLoader::new(Arc::new(data.train), LoaderConfig::shuffled(batch_size, pipeline, 0))?,
        DataLoader::new(Arc::new(data.test), LoaderConfig::in_order(batch_size, pipeline))?,
    ))
}
