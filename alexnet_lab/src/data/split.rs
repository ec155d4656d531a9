//! Fashion-MNIST in memory: a [`Split`] of 28x28 grey images and labels 0-9, the pair of
//! splits [`FashionMnist`], and the dataset's constants and class names. Where they come from
//! is [`source`](super::source)'s matter.

use crate::report::display::{Png, Svg};
use crate::report::plot::{image_grid_png, image_grid_svg};

use crate::{Error, Result};

/// Side of a Fashion-MNIST image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub(crate) const PIXELS: usize = SIDE * SIDE;
/// Images in Fashion-MNIST's training split.
pub(crate) const TRAIN_IMAGES: usize = 60_000;
/// Images in Fashion-MNIST's test split.
pub(crate) const TEST_IMAGES: usize = 10_000;

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
            return Err(Error::invalid("n", "ask for at least 1 image (e.g. 18)"));
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

/// Train and test splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FashionMnist {
    pub train: Split,
    pub test: Split,
}
