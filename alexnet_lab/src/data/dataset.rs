//! What the loader, training, evaluation and checkpoints take: a [`Dataset`] of labelled images
//! (PyTorch's map-style `Dataset`, burn's `Dataset`): its length, the `i`-th image as decoded
//! pixels and its label, the channels the network gets, the class names.
//!
//! Fashion-MNIST's [`Split`] is one; an [`ImageFolder`](super::folder::ImageFolder) of a
//! learner's own photos is another. Tensors are made from the items batch by batch by the
//! [`loader`](super::loader), so a dataset holds what it likes (bytes in memory, file paths).

use std::sync::Arc;

use image::DynamicImage;

use super::transforms::gray;
use super::{Split, CLASS_NAMES, SIDE};
use crate::{Error, Result};

/// Labelled images, indexed from 0.
pub trait Dataset: Send + Sync {
    /// Number of examples.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of the tensors made from it: 1 (grey) or 3 (RGB).
    fn channels(&self) -> usize;

    /// Class names in label order (label `k` is `class_names()[k]`).
    fn class_names(&self) -> &[String];

    fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// Examples per class, in label order.
    fn class_counts(&self) -> Result<Vec<usize>> {
        let mut c = vec![0; self.num_classes()];
        for i in 0..self.len() {
            if let Some(n) = c.get_mut(self.label(i)?) {
                *n += 1;
            }
        }
        Ok(c)
    }

    /// Example `i`'s image, decoded, at its own size (the loader's pipeline makes it square).
    fn image(&self, i: usize) -> Result<DynamicImage>;

    /// Example `i`'s label, below [`Dataset::num_classes`].
    fn label(&self, i: usize) -> Result<usize>;

    /// Where the examples come from, for the lines a run prints.
    fn describe(&self) -> String;
}

impl Dataset for Split {
    fn len(&self) -> usize {
        Split::len(self)
    }

    fn channels(&self) -> usize {
        1
    }

    fn class_names(&self) -> &[String] {
        static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| CLASS_NAMES.iter().map(|s| s.to_string()).collect());
        &NAMES
    }

    fn image(&self, i: usize) -> Result<DynamicImage> {
        Ok(DynamicImage::ImageLuma8(gray(SIDE, SIDE, Split::image(self, i)?)?))
    }

    fn label(&self, i: usize) -> Result<usize> {
        Split::label(self, i).map(usize::from)
    }

    fn describe(&self) -> String {
        format!("Fashion-MNIST ({} examples)", Split::len(self))
    }
}

/// The first `n` examples of a dataset (a run's `--limit` / `--test-limit`).
pub struct Limited {
    inner: Arc<dyn Dataset>,
    n: usize,
}

impl Dataset for Limited {
    fn len(&self) -> usize {
        self.n
    }

    fn channels(&self) -> usize {
        self.inner.channels()
    }

    fn class_names(&self) -> &[String] {
        self.inner.class_names()
    }

    fn image(&self, i: usize) -> Result<DynamicImage> {
        self.check(i)?;
        self.inner.image(i)
    }

    fn label(&self, i: usize) -> Result<usize> {
        self.check(i)?;
        self.inner.label(i)
    }

    fn describe(&self) -> String {
        format!("the first {} of {}", self.n, self.inner.describe())
    }
}

impl Limited {
    fn check(&self, i: usize) -> Result<()> {
        if i >= self.n {
            return Err(Error::data(format!("example {i} is outside the {} examples kept", self.n)));
        }
        Ok(())
    }
}

/// The first `limit` examples of `data` when a limit below its length is given, else `data`.
pub fn limited(data: Arc<dyn Dataset>, limit: Option<usize>) -> Arc<dyn Dataset> {
    match limit {
        Some(n) if n < data.len() => Arc::new(Limited { inner: data, n }),
        _ => data,
    }
}
