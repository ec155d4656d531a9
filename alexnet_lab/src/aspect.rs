//! Forced resize vs aspect-preserving resize + crop vs letterbox (the lecture's Q&A: AlexNet
//! squashes every image to 224x224 — why not keep the aspect ratio and crop?).
//!
//! Fashion-MNIST is square, so the experiment builds a non-square test set from real test
//! images: each 28x28 image is pasted, unscaled, into a black frame of the chosen aspect ratio
//! (as a photo frames an object with background around it), at a position drawn at random
//! within a `jitter` fraction of the free space around the centre. Then each pipeline turns
//! the frames into the model's square input:
//! - `Resize` squashes the frame (the object gets thinner by the aspect ratio);
//! - `Crop` keeps proportions and takes the centre square (an off-centre object is cut);
//! - `Letterbox` keeps proportions and the whole frame (the object gets smaller).

use candle_core::{Device, Tensor, D};
use image::{imageops, GrayImage};
use rand::{Rng, SeedableRng};

use crate::data::{Split, SIDE};
use crate::models::Sequential;
use crate::transforms::{gray, Pipeline};
use crate::{Error, Result};

/// Real test images in non-square frames.
#[derive(Debug, Clone)]
pub struct FramedSet {
    pub frames: Vec<GrayImage>,
    pub labels: Vec<u8>,
    /// Width / height of every frame (> 1: landscape).
    pub aspect: f64,
    pub jitter: f64,
}

/// The first `n` images of `split`, each in a frame of `aspect` (width / height, e.g. 2.0 or
/// 0.5; the short side stays 28 pixels), placed at a random offset within `jitter` (0: centred,
/// 1: anywhere in the frame) of the free space, seeded.
pub fn framed_set(split: &Split, n: usize, aspect: f64, jitter: f64, seed: u64) -> Result<FramedSet> {
    if !(aspect.is_finite() && aspect > 0.0) {
        return Err(Error::config(format!("aspect ratio must be a positive number (width / height), got {aspect}")));
    }
    if !(0.0..=1.0).contains(&jitter) {
        return Err(Error::config(format!("jitter must be between 0 (centred) and 1 (anywhere), got {jitter}")));
    }
    if n == 0 || n > split.len() {
        return Err(Error::config(format!("asked for {n} framed images, the split has {} (1..={0})", split.len())));
    }
    let long = (SIDE as f64 * aspect.max(1.0 / aspect)).round() as usize;
    let (w, h) = if aspect >= 1.0 { (long, SIDE) } else { (SIDE, long) };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut frames = Vec::with_capacity(n);
    for i in 0..n {
        let img = gray(SIDE, SIDE, split.image(i))?;
        let free = (w - SIDE).max(h - SIDE) as f64;
        let shift = (rng.random_range(-1.0..=1.0) * jitter * free / 2.0).round();
        let at = (free / 2.0 + shift).clamp(0.0, free) as i64;
        let mut frame = GrayImage::new(w as u32, h as u32);
        let (x, y) = if aspect >= 1.0 { (at, 0) } else { (0, at) };
        imageops::replace(&mut frame, &img, x, y);
        frames.push(frame);
    }
    Ok(FramedSet { frames, labels: split.labels[..n].to_vec(), aspect, jitter })
}

/// Predictions of `net` (eval mode) on frames through `pipeline`, batched.
pub fn predict(net: &Sequential, frames: &[GrayImage], pipeline: &Pipeline, batch_size: usize, device: &Device) -> Result<Vec<u32>> {
    if batch_size == 0 {
        return Err(Error::config("batch size must be at least 1"));
    }
    let [c, h, w] = net.input_dims();
    if (c, h, w) != (1, pipeline.size, pipeline.size) {
        return Err(Error::config(format!(
            "the model takes {c}x{h}x{w} inputs, the pipeline makes 1x{0}x{0}: use a {h}-pixel pipeline",
            pipeline.size
        )));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut out = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(batch_size) {
        let mut v = Vec::with_capacity(chunk.len() * h * w);
        for f in chunk {
            pipeline.apply_into(f, &mut rng, &mut v);
        }
        let x = Tensor::from_vec(v, (chunk.len(), 1, h, w), device)?;
        out.extend(net.forward(&x, false)?.argmax(D::Minus1)?.to_vec1::<u32>()?);
    }
    Ok(out)
}

/// Accuracy of `predictions` against `labels`.
pub fn accuracy(predictions: &[u32], labels: &[u8]) -> f64 {
    let right = predictions.iter().zip(labels).filter(|(p, l)| **p == **l as u32).count();
    right as f64 / labels.len().max(1) as f64
}
