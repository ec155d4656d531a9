//! An image-classification dataset of the Hugging Face hub in parquet (`--hub-dataset
//! ORG/NAME`): an image column (the `datasets` library's `Image` feature: a struct of PNG/JPEG
//! bytes and a path, or plain bytes) and a label column (its `ClassLabel` feature, whose names
//! become the class names). Fashion-MNIST's hub files are one such dataset.
//!
//! - Files: the repo's parquet files, found in the hub's listing of the repo (offline: in the
//!   cache's snapshot); the training split is every file whose name or folder starts with
//!   `train`, the test split those starting with `test` (else `validation`, `valid`, `val`),
//!   shards concatenated in name order.
//! - Columns: the features the `datasets` library records in each file's `huggingface`
//!   metadata (`Image`, `ClassLabel` with its names); without that metadata, columns named
//!   `image`/`img` and `label`/`labels`, classes named by their numbers.
//! - Every image's header is read when the split is loaded (its size bounded as for photos,
//!   grey or colour noted); pixels are decoded batch by batch. Memory: the encoded bytes.

use std::path::{Path, PathBuf};

use image::DynamicImage;

use super::dataset::Dataset;
use super::hub::Hub;
use super::parquet::read_image_table;
use super::photo::{decode_image_bytes, probe_image_bytes};
use crate::{Error, Result};

/// One split of a hub image dataset, its images still encoded.
#[derive(Debug, Clone)]
pub struct HubImages {
    what: String,
    images: Vec<Vec<u8>>,
    labels: Vec<usize>,
    classes: Vec<String>,
    channels: usize,
}

/// The parquet files of a repo's training and test splits, from its file list.
pub(crate) fn split_files(repo: &str, files: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let parquet: Vec<&String> = files.iter().filter(|f| f.ends_with(".parquet")).collect();
    let starts = |f: &str, split: &str| {
        f.split('/').any(|part| part == split || part.starts_with(&format!("{split}-")) || part.starts_with(&format!("{split}.")))
    };
    let pick = |splits: &[&str]| -> Vec<String> {
        for s in splits {
            let mut v: Vec<String> = parquet.iter().filter(|f| starts(f, s)).map(|f| f.to_string()).collect();
            if !v.is_empty() {
                v.sort();
                return v;
            }
        }
        vec![]
    };
    let (train, test) = (pick(&["train"]), pick(&["test", "validation", "valid", "val"]));
    if train.is_empty() || test.is_empty() {
        return Err(Error::data(format!(
            "the hub dataset {repo} has no {} split among its parquet files ({}): the lab takes files named or in \
             folders named train... and test... (or validation...)",
            if train.is_empty() { "training" } else { "test" },
            if parquet.is_empty() { "none".to_string() } else { parquet.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") }
        )));
    }
    Ok((train, test))
}

impl HubImages {
    /// The training and test splits of the hub dataset `hub.repo` (downloaded into the cache
    /// once). `channels`: 1 or 3, or `None` for 3 when any image stores colour.
    pub fn splits(hub: &Hub, channels: Option<usize>) -> Result<(Self, Self)> {
        let (train, test) = split_files(&hub.repo, &hub.list()?)?;
        let files: Vec<&str> = train.iter().chain(&test).map(String::as_str).collect();
        let paths = hub.fetch(&files)?;
        let (tr, te) = paths.split_at(train.len());
        let train = Self::from_parquet(tr, &format!("{} (train)", hub.repo))?;
        let test = Self::from_parquet(te, &format!("{} (test)", hub.repo))?;
        if train.classes != test.classes {
            return Err(Error::data(format!(
                "the hub dataset {}: its training files name the classes {:?}, its test files {:?}",
                hub.repo, train.classes, test.classes
            )));
        }
        let c = channels.unwrap_or(if train.channels == 3 || test.channels == 3 { 3 } else { 1 });
        Ok((train.with_channels(c)?, test.with_channels(c)?))
    }

    /// The test split only (nothing of the training split is downloaded), its channels as its
    /// images say.
    pub(crate) fn test_split(hub: &Hub) -> Result<Self> {
        let (_, test) = split_files(&hub.repo, &hub.list()?)?;
        let files: Vec<&str> = test.iter().map(String::as_str).collect();
        Self::from_parquet(&hub.fetch(&files)?, &format!("{} (test)", hub.repo))
    }

    /// One split from its parquet shards, in order (`what` names it in lines and errors).
    pub fn from_parquet(files: &[PathBuf], what: &str) -> Result<Self> {
        let (mut images, mut labels, mut names, mut color) = (vec![], vec![], None::<Vec<String>>, false);
        for f in files {
            let table = read_image_table(&read_file(f)?, &f.display().to_string())?;
            if let Some(n) = table.class_names {
                if names.as_ref().is_some_and(|m| *m != n) {
                    return Err(Error::data(format!("{}: its class names differ from those of {what}'s first file", f.display())));
                }
                names = Some(n);
            }
            for (row, b) in table.images.iter().enumerate() {
                color |= probe_image_bytes(b, &format!("{}: row {row}", f.display()))?.color;
            }
            images.extend(table.images);
            labels.extend(table.labels);
        }
        let max = labels.iter().max().copied();
        let classes = names.unwrap_or_else(|| (0..max.map_or(0, |m| m + 1)).map(|k| k.to_string()).collect());
        if let Some(m) = max.filter(|&m| m >= classes.len()) {
            return Err(Error::data(format!("{what}: label {m} has no class name (the files name {} classes)", classes.len())));
        }
        if classes.len() < 2 {
            return Err(Error::data(format!("{what}: {} class(es); a classifier needs at least 2", classes.len())));
        }
        Ok(Self { what: what.to_string(), images, labels, classes, channels: if color { 3 } else { 1 } })
    }

    /// The same images made into `channels` channels (1: grey, 3: RGB).
    pub fn with_channels(mut self, channels: usize) -> Result<Self> {
        super::transforms::check_channels(channels)?;
        self.channels = channels;
        Ok(self)
    }

}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    crate::sys::fs::read_regular(path, 4 << 30, "a parquet file of a hub dataset")
}

impl Dataset for HubImages {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn class_names(&self) -> &[String] {
        &self.classes
    }

    fn image(&self, i: usize) -> Result<DynamicImage> {
        let b = self.images.get(i).ok_or_else(|| self.outside(i))?;
        decode_image_bytes(b, &format!("{}: row {i}", self.what))
    }

    fn label(&self, i: usize) -> Result<usize> {
        self.labels.get(i).copied().ok_or_else(|| self.outside(i))
    }

    fn describe(&self) -> String {
        format!(
            "the hub dataset {} ({} classes, {} images, {})",
            self.what,
            self.classes.len(),
            self.labels.len(),
            if self.channels == 3 { "RGB" } else { "grey" }
        )
    }
}

impl HubImages {
    fn outside(&self, i: usize) -> Error {
        Error::data(format!("example {i} is outside the {} images of {}", self.labels.len(), self.what))
    }
}
