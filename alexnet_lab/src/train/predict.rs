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
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader};

use super::checkpoint::{self, CheckpointMeta};
use crate::data::{Augment, Pipeline, ResizeMode, CLASS_NAMES};
use crate::nn::Sequential;
use crate::report::display::Png;
use crate::{Error, Result};

/// File name extensions taken from a folder (case-insensitive): the formats read, and other
/// image formats, which are then reported one by one ("convert it") instead of skipped in
/// silence. Files named on the command line are read whatever their name.
pub const IMAGE_EXTENSIONS: [&str; 11] = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif", "avif"];

/// The largest photo decoded: 100 megapixels (a 12-megapixel phone photo is 4032x3024). Larger
/// ones are refused from their header, before memory is spent on them.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Pillow's `convert("L")` of one RGB pixel (`Convert.c`: `L24` rounded, >> 16).
pub fn luma_601(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19_595 + g as u32 * 38_470 + b as u32 * 7_471 + 0x8000) >> 16) as u8
}

/// A decoded image as grey, torchvision's `Grayscale()` way (see the module docs); grey images
/// keep their values, alpha is dropped.
pub fn to_gray(img: &DynamicImage) -> GrayImage {
    if !img.color().has_color() {
        return img.to_luma8();
    }
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let px = rgb.pixels().map(|p| luma_601(p.0[0], p.0[1], p.0[2])).collect();
    // The buffer has exactly w*h bytes, so from_raw cannot fail; an empty image is the fallback.
    GrayImage::from_raw(w, h, px).unwrap_or_default()
}

/// The largest photo file `predict` reads.
pub const MAX_PHOTO_BYTES: u64 = 256 << 20;

/// Reads a PNG, JPEG or WebP photo, upright (EXIF orientation applied) and grey.
pub fn read_photo(path: &Path) -> Result<GrayImage> {
    let what = path.display();
    if path.is_dir() {
        return Err(Error::data(format!("{what} is a folder, not an image")));
    }
    let bytes = crate::sys::fs::read_regular(path, MAX_PHOTO_BYTES, "a photo (PNG, JPEG or WebP)")?;
    // The format from the first bytes only (a file's name may lie; `with_guessed_format` would
    // fall back to the name).
    match image::guess_format(&bytes) {
        Ok(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => {}
        Ok(f) => {
            return Err(Error::data(format!(
                "{what} is a {f:?} image; predict reads PNG, JPEG and WebP: convert it to one of those"
            )))
        }
        Err(_) => {
            return Err(Error::data(format!(
                "{what} is not an image: its first bytes are not those of a PNG, JPEG or WebP file"
            )))
        }
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(format!("cannot read {what}"), e))?;
    let bad = |e: image::ImageError| Error::data(format!("{what} cannot be decoded: {e}"));
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(Error::data(format!(
            "{what} is {w}x{h} pixels ({:.0} megapixels), more than the {} megapixels this lab decodes: scale it down first",
            w as f64 * h as f64 / 1e6,
            MAX_PIXELS / 1_000_000
        )));
    }
    // A missing or unreadable EXIF block means "as stored", as in every photo viewer.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    img.apply_orientation(orientation);
    Ok(to_gray(&img))
}

/// The image files of `inputs`: a file is taken as it is; a folder is searched recursively for
/// files with an [`IMAGE_EXTENSIONS`] name (hidden files and folders, e.g. `.DS_Store` or
/// `.ipynb_checkpoints`, and symlinks to folders left out). Sorted by path, each once. Paths that do not exist
/// and folders that cannot be listed come back in the second list with their error, so one bad
/// input does not stop the others.
pub fn collect_images(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, Error)>) {
    let (mut files, mut problems) = (vec![], vec![]);
    for input in inputs {
        if input.is_dir() {
            let before = files.len();
            walk(input, &mut files, &mut problems);
            if files.len() == before {
                problems.push((
                    input.clone(),
                    Error::data(format!("{} holds no image file (.png, .jpg, .jpeg, .webp)", input.display())),
                ));
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            problems.push((
                input.clone(),
                Error::io(format!("cannot read {}", input.display()), std::io::ErrorKind::NotFound.into()),
            ));
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<(PathBuf, Error)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return problems.push((dir.to_path_buf(), Error::io(format!("cannot list {}", dir.display()), e))),
    };
    for entry in entries {
        let (path, real_dir) = match entry {
            // `file_type` does not follow symlinks: a link to a folder (maybe to a parent, a loop)
            // is not entered.
            Ok(e) => (e.path(), e.file_type().is_ok_and(|t| t.is_dir())),
            Err(e) => return problems.push((dir.to_path_buf(), Error::io(format!("cannot list {}", dir.display()), e))),
        };
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        if real_dir {
            walk(&path, files, problems);
        } else if is_image_name(&path) {
            files.push(path);
        }
    }
}

/// Whether a file name ends in one of [`IMAGE_EXTENSIONS`].
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// One class and its probability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Guess {
    pub label: usize,
    pub class: &'static str,
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
    net: Sequential,
    /// What the checkpoint says about the model and its training.
    pub meta: CheckpointMeta,
    /// How a photo becomes the model's square input (the checkpoint's size).
    pub pipeline: Pipeline,
    /// Invert grey levels before the pipeline.
    pub invert: bool,
    device: Device,
}

impl Predictor {
    /// Loads a checkpoint (run folder or a file in it); nothing of the data set is read.
    pub fn load(checkpoint: &Path, mode: ResizeMode, invert: bool, device: &Device) -> Result<Self> {
        let (net, _, meta) = checkpoint::load_model(checkpoint, device)?;
        let pipeline = Pipeline { size: meta.input[1], mode, augment: Augment::default() };
        Ok(Self { net, meta, pipeline, invert, device: device.clone() })
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
    pub fn classify_with(&self, photo: &GrayImage, mode: ResizeMode, top_k: usize) -> Result<Vec<Guess>> {
        let x = Pipeline::resize(self.pipeline.size).batch_tensor(&[self.input_image_with(photo, mode)], &self.device)?;
        let probs = candle_nn::ops::softmax(&self.net.forward(&x, false)?, D::Minus1)?.squeeze(0)?.to_vec1::<f32>()?;
        Ok(top(&probs, top_k))
    }

    /// Reads and classifies one file.
    pub fn classify_file(&self, path: &Path, top_k: usize) -> Result<Vec<Guess>> {
        self.classify(&read_photo(path)?, top_k)
    }
}

/// The `k` largest probabilities with their classes, largest first (ties: lower label first).
pub fn top(probs: &[f32], k: usize) -> Vec<Guess> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs.get(b).partial_cmp(&probs.get(a)).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k.max(1))
        .filter_map(|i| {
            Some(Guess { label: i, class: CLASS_NAMES.get(i).copied()?, probability: *probs.get(i)? as f64 })
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
        "class" => rows.iter().map(|r| r.2.class).collect::<Vec<_>>(),
        "probability" => rows.iter().map(|r| r.2.probability).collect::<Vec<_>>(),
    )?)
}
