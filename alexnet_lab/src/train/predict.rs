//! Classify the photos people actually have with a trained checkpoint: PNG, JPEG or WebP, any
//! size and aspect ratio, a file or a folder at a time.
//!
//! What happens to a photo, in order:
//! 1. decoded by the `image` crate (the format is read from the file's first bytes, not its
//!    name); its size is read from the header first and a photo over [`MAX_PIXELS`] is refused
//!    before any pixel is decoded;
//! 2. turned upright by its EXIF orientation (JPEG, WebP, PNG): a phone photo taken upright but
//!    stored sideways is classified upright;
//! 3. made grey as torchvision's `Grayscale()` does on a PIL image (Pillow's `convert("L")`,
//!    ITU-R 601-2 luma: `L = R·299/1000 + G·587/1000 + B·114/1000`, in Pillow's fixed point);
//!    alpha is dropped;
//! 4. optionally inverted (Fashion-MNIST is light clothing on black; photos are usually the
//!    reverse);
//! 5. made square by the pipeline's [`ResizeMode`] at the checkpoint's input size, then scaled
//!    to [0, 1] (`ToTensor()`).

use std::path::{Path, PathBuf};

use candle_core::{Device, D};
use image::{DynamicImage, GrayImage, ImageFormat};
use rand::SeedableRng;

pub use crate::data::photo::{
    collect_images, luma_601, read_image, read_photo, to_gray, IMAGE_EXTENSIONS, MAX_PHOTO_BYTES, MAX_PIXELS,
};

use super::checkpoint::{self, CheckpointMeta};
use crate::data::{Augment, Pipeline, ResizeMode};
use crate::nn::Net;
use crate::report::display::Png;
use crate::{Error, Result};

/// One class and its probability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Guess {
    pub label: usize,
    pub class: String,
    pub probability: f64,
}

/// A trained model ready to classify photos.
///
/// ```no_run
/// use alexnet_lab::{candle::Device, data::ResizeMode, train::Predictor};
/// let p = Predictor::load("runs/alexnet-cpu".as_ref(), ResizeMode::Crop, true, &Device::Cpu)?;
/// for guess in p.classify_file("photo.jpg".as_ref(), 3)? {
///     println!("{} {:.1}%", guess.class, 100.0 * guess.probability);
/// }
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub struct Predictor {
    net: Net,
    /// What the checkpoint says about the model and its training.
    pub meta: CheckpointMeta,
    /// How a photo becomes the model's square input (the checkpoint's size).
    pub pipeline: Pipeline,
    /// Invert grey levels before the pipeline.
    pub invert: bool,
    /// The checkpoint's class names, in label order.
    pub classes: Vec<String>,
    device: Device,
}

impl Predictor {
    /// Loads a checkpoint (run folder or a file in it); nothing of the data set is read.
    pub fn load(checkpoint: &Path, mode: ResizeMode, invert: bool, device: &Device) -> Result<Self> {
        let (net, _, meta) = checkpoint::load_model(checkpoint, device)?;
        let pipeline = Pipeline { size: meta.input()[1], mode, augment: Augment::default() };
        let classes = meta.class_names();
        Ok(Self { net, meta, pipeline, invert, classes, device: device.clone() })
    }

    /// The `size x size` grey image the network sees for `photo`.
    pub fn input_image(&self, photo: &GrayImage) -> GrayImage {
        self.input_image_with(photo, self.pipeline.mode)
    }

    fn input_image_with(&self, photo: &GrayImage, mode: ResizeMode) -> GrayImage {
        let mut g = photo.clone();
        if self.invert {
            image::imageops::invert(&mut g);
        }
        // No augmentation: the random source is never used.
        let p = Pipeline { mode, ..self.pipeline };
        p.apply_image(&g, &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0))
    }

    /// The `top_k` most probable classes for a grey photo, most probable first.
    pub fn classify(&self, photo: &GrayImage, top_k: usize) -> Result<Vec<Guess>> {
        self.classify_with(photo, self.pipeline.mode, top_k)
    }

    /// [`Predictor::classify`] through another resize mode (for comparing pipelines).
    pub(crate) fn classify_with(&self, photo: &GrayImage, mode: ResizeMode, top_k: usize) -> Result<Vec<Guess>> {
        if self.channels() != 1 {
            return self.classify_image(&DynamicImage::ImageLuma8(photo.clone()), top_k);
        }
        let x = Pipeline::resize(self.pipeline.size).batch_tensor(&[self.input_image_with(photo, mode)], &self.device)?;
        self.top_of(&x, top_k)
    }

    /// The `top_k` most probable classes for an image of any kind, made into the model's
    /// channels (grey as torchvision's `Grayscale()`, or RGB), most probable first.
    pub fn classify_image(&self, img: &DynamicImage, top_k: usize) -> Result<Vec<Guess>> {
        if self.channels() == 1 {
            return self.classify(&to_gray(img), top_k);
        }
        let mut img = img.to_rgb8();
        if self.invert {
            image::imageops::invert(&mut img);
        }
        let mut v = vec![];
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        self.pipeline.apply_channels(&DynamicImage::ImageRgb8(img), self.channels(), &mut rng, &mut v)?;
        let s = self.pipeline.size;
        self.top_of(&candle_core::Tensor::from_vec(v, (1, self.channels(), s, s), &self.device)?, top_k)
    }

    /// Channels of the model's input (1 grey, 3 RGB).
    pub fn channels(&self) -> usize {
        self.meta.input()[0]
    }

    fn top_of(&self, x: &candle_core::Tensor, top_k: usize) -> Result<Vec<Guess>> {
        let probs = candle_nn::ops::softmax(&self.net.forward(x, false)?, D::Minus1)?.squeeze(0)?.to_vec1::<f32>()?;
        Ok(top(&probs, top_k, &self.classes))
    }

    /// Reads and classifies one file.
    pub fn classify_file(&self, path: &Path, top_k: usize) -> Result<Vec<Guess>> {
        self.classify_image(&read_image(path)?, top_k)
    }
}

/// The `k` largest probabilities with their classes (`classes`, in label order), largest first
/// (ties: lower label first).
pub fn top(probs: &[f32], k: usize, classes: &[String]) -> Vec<Guess> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs.get(b).partial_cmp(&probs.get(a)).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k.max(1))
        .filter_map(|i| {
            Some(Guess { label: i, class: classes.get(i)?.clone(), probability: *probs.get(i)? as f64 })
        })
        .collect()
}

/// A picture of what each resize mode feeds the network: one row per photo, the photo itself
/// (its longer side 1.5x the input size) then resize, crop and letterbox, each centred in its
/// cell on a grey canvas, as PNG.
pub fn pipelines_png(predictor: &Predictor, photos: &[GrayImage]) -> Result<Png> {
    let s = predictor.pipeline.size;
    let mut cells: Vec<GrayImage> = vec![];
    for p in photos {
        let (w, h) = (p.width() as f64, p.height() as f64);
        let k = (s as f64 * 1.5) / w.max(h);
        let shown = crate::data::transforms::resize_exact(p, ((w * k).round() as usize).max(1), ((h * k).round() as usize).max(1));
        cells.push(shown);
        for mode in ResizeMode::ALL {
            cells.push(predictor.input_image_with(p, mode));
        }
    }
    // On a grey canvas, so that each black frame's edges show.
    let pad = 6u32;
    let (cw, ch) = cells.iter().fold((1, 1), |(a, b), c| (a.max(c.width()), b.max(c.height())));
    let rows = photos.len().max(1) as u32;
    let mut canvas = GrayImage::from_pixel(4 * (cw + pad) + pad, rows * (ch + pad) + pad, image::Luma([128]));
    for (k, c) in cells.iter().enumerate() {
        let (col, row) = (k as u32 % 4, k as u32 / 4);
        let (x, y) = (pad + col * (cw + pad) + (cw - c.width()) / 2, pad + row * (ch + pad) + (ch - c.height()) / 2);
        image::imageops::replace(&mut canvas, c, x as i64, y as i64);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    canvas
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Error::data(format!("cannot encode the pipelines picture as PNG: {e}")))?;
    Ok(Png(out.into_inner()))
}

/// Predictions as a table: one row per file and rank (`file, rank, label, class, probability`).
pub fn to_dataframe(results: &[(PathBuf, Vec<Guess>)]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let rows: Vec<(String, usize, &Guess)> = results
        .iter()
        .flat_map(|(f, top)| top.iter().enumerate().map(move |(r, g)| (f.display().to_string(), r + 1, g)))
        .collect();
    Ok(df!(
        "file" => rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        "rank" => rows.iter().map(|r| r.1 as u32).collect::<Vec<_>>(),
        "label" => rows.iter().map(|r| r.2.label as u32).collect::<Vec<_>>(),
        "class" => rows.iter().map(|r| r.2.class.as_str()).collect::<Vec<_>>(),
        "probability" => rows.iter().map(|r| r.2.probability).collect::<Vec<_>>(),
    )?)
}
