//! Forced resize vs aspect-preserving resize + crop vs letterbox (the lecture's Q&A: forcing an
//! image to 224x224 squashes a non-square one — why not keep the aspect ratio and crop? d2l's
//! `Resize(224)` sets the shorter side and keeps the ratio; on Fashion-MNIST's square images
//! nothing is squashed).
//!
//! Fashion-MNIST is square, so the experiment builds a non-square test set from real test
//! images: each 28x28 image is pasted, unscaled, into a black frame of the chosen aspect ratio
//! (as a photo frames an object with background around it), at a position drawn at random
//! within a `jitter` fraction of the free space around the centre. Then each pipeline turns
//! the frames into the model's square input:
//! - `Resize` squashes the frame (the object gets thinner by the aspect ratio);
//! - `Crop` keeps proportions and takes the centre square (an off-centre object is cut);
//! - `Letterbox` keeps proportions and the whole frame (the object gets smaller).

use candle_core::{Device, D};
use image::{imageops, GrayImage};
use rand::{Rng, SeedableRng};

use crate::data::transforms::gray;
use crate::data::{Pipeline, ResizeMode, Split, CLASS_NAMES, SIDE};
use crate::nn::Sequential;
use crate::report::display::{text, Png, Svg};
use crate::report::plot::{image_grid_png, share_bars_svg};
use crate::report::table::render;
use crate::train::accuracy;
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
        let img = gray(SIDE, SIDE, split.image(i)?)?;
        let free = (w - SIDE).max(h - SIDE) as f64;
        let shift = (rng.random_range(-1.0..=1.0) * jitter * free / 2.0).round();
        let at = (free / 2.0 + shift).clamp(0.0, free) as i64;
        let mut frame = GrayImage::new(w as u32, h as u32);
        let (x, y) = if aspect >= 1.0 { (at, 0) } else { (0, at) };
        imageops::replace(&mut frame, &img, x, y);
        frames.push(frame);
    }
    Ok(FramedSet { frames, labels: split.labels().iter().take(n).copied().collect(), aspect, jitter })
}

/// Predictions of `net` (eval mode) on frames through `pipeline`, batched.
pub fn predict(net: &Sequential, frames: &[GrayImage], pipeline: &Pipeline, batch_size: usize, device: &Device) -> Result<Vec<u32>> {
    crate::data::loader::check_batch_size(batch_size)?;
    let [c, h, w] = net.input_dims();
    if (c, h, w) != (1, pipeline.size, pipeline.size) {
        return Err(Error::config(format!(
            "the model takes {c}x{h}x{w} inputs, the pipeline makes 1x{0}x{0}: use a {h}-pixel pipeline",
            pipeline.size
        )));
    }
    let mut out = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(batch_size) {
        let x = pipeline.batch_tensor(chunk, device)?;
        out.extend(net.forward(&x, false)?.argmax(D::Minus1)?.to_vec1::<u32>()?);
    }
    Ok(out)
}

/// The lecture's question as an experiment: test accuracy of one trained model on real test
/// images in five frames (square as trained; 4:3 and 2:1 centred; 2:1 and 1:2 anywhere),
/// through each of the three pipelines. Prints (and shows in a notebook) as a table.
#[derive(Debug, Clone)]
pub struct AspectComparison {
    /// Images per set.
    pub n: usize,
    /// The model's input side.
    pub size: usize,
    /// The sets, named.
    pub sets: Vec<(&'static str, FramedSet)>,
    /// `accuracy[set][mode]`, modes in [`ResizeMode::ALL`]'s order.
    pub accuracy: Vec<[f64; 3]>,
}

/// The five frames of the comparison: name, aspect (width / height), jitter.
pub const FRAMES: [(&str, f64, f64); 5] = [
    ("square (as trained)", 1.0, 0.0),
    ("4:3, centred", 4.0 / 3.0, 0.0),
    ("2:1, centred", 2.0, 0.0),
    ("2:1, anywhere", 2.0, 1.0),
    ("1:2, anywhere", 0.5, 1.0),
];

/// Runs the comparison on the first `n` images of `test` (seed 0) with `net`.
///
/// ```no_run
/// use alexnet_lab::{candle::Device, data::{FashionMnist, Source}, lecture::aspect, train};
/// let (net, _, _) = train::load_model("../data/fixtures/lenet-d2l".as_ref(), &Device::Cpu)?;
/// let cmp = aspect::compare(&net, &FashionMnist::load_test(&Source::hub())?, 1000, &Device::Cpu)?;
/// println!("{}{}", cmp.to_table(), cmp.best());
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub fn compare(net: &Sequential, test: &Split, n: usize, device: &Device) -> Result<AspectComparison> {
    let size = net.input_dims()[1];
    let sets = FRAMES
        .iter()
        .map(|&(name, aspect, jitter)| Ok((name, framed_set(test, n, aspect, jitter, 0)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut acc = Vec::with_capacity(sets.len());
    for (_, set) in &sets {
        let mut row = [0.0; 3];
        for (a, mode) in row.iter_mut().zip(ResizeMode::ALL) {
            let p = Pipeline { size, mode, augment: Default::default() };
            *a = accuracy(&predict(net, &set.frames, &p, 250, device)?, &set.labels);
        }
        acc.push(row);
    }
    Ok(AspectComparison { n, size, sets, accuracy: acc })
}

/// Half-width of the 95% interval of an accuracy `p` measured on `n` images (normal
/// approximation of the binomial: 1.96 standard errors).
pub fn ci95(p: f64, n: usize) -> f64 {
    1.96 * (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

impl AspectComparison {
    /// The accuracies as a text table, one row per frame, each with its 95% interval.
    pub fn to_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .sets
            .iter()
            .zip(&self.accuracy)
            .map(|((name, _), a)| {
                std::iter::once(name.to_string()).chain(a.iter().map(|&v| format!("{v:.3} ± {:.3}", ci95(v, self.n)))).collect()
            })
            .collect();
        format!(
            "test accuracy on {} real test images per set (± the 95% interval, 1.96 binomial standard errors)\n{}",
            self.n,
            render(&["frame", ">resize", ">crop", ">letterbox"], &rows)
        )
    }

    /// The accuracies as bars, one group per frame.
    pub fn plot(&self) -> Result<Svg> {
        let labels: Vec<String> = self.sets.iter().map(|(n, _)| n.to_string()).collect();
        let cols: Vec<(&str, Vec<f64>)> =
            ResizeMode::ALL.iter().enumerate().map(|(m, mode)| (mode.as_str(), self.accuracy.iter().map(|a| a.get(m).copied().unwrap_or(0.0)).collect())).collect();
        share_bars_svg("test accuracy by pipeline", &labels, &cols)
    }

    /// One line per frame: the best pipeline, by how much it leads the runner-up and whether
    /// that lead is outside the 95% interval of a difference of two accuracies on `n` images
    /// each (1.96 · √(p₁(1−p₁)/n + p₂(1−p₂)/n); conservative here, as the pipelines see the
    /// same images), and all three accuracies.
    pub fn best(&self) -> String {
        self.sets
            .iter()
            .zip(&self.accuracy)
            .map(|((name, _), a)| {
                let (best, acc) = ResizeMode::ALL.iter().zip(a).fold((ResizeMode::Resize, f64::MIN), |b, (m, &v)| if v > b.1 { (*m, v) } else { b });
                let [r, c, l] = *a;
                let second = a.iter().copied().filter(|&v| v < acc).fold(f64::MIN, f64::max);
                let lead = if second == f64::MIN || a.iter().filter(|&&v| v == acc).count() > 1 {
                    "tied".to_string()
                } else {
                    // The half-widths of two independent intervals add in quadrature.
                    let (d, h) = (acc - second, ci95(acc, self.n).hypot(ci95(second, self.n)));
                    format!("leads by {d:.3}, {} the ±{h:.3} of chance", if d > h { "outside" } else { "within" })
                };
                format!("{name:<20} best: {best} ({acc:.3}, {lead}); resize {r:.3}, crop {c:.3}, letterbox {l:.3}\n")
            })
            .collect()
    }

    /// The first `count` frames of set `set` (an index into [`FRAMES`]) beside what each
    /// pipeline makes of them, with the model's prediction for each.
    pub fn examples(&self, net: &Sequential, set: usize, count: usize, device: &Device) -> Result<AspectExamples> {
        let (_, s) = self.sets.get(set).ok_or_else(|| Error::config(format!("set {set} is not one of the {} sets", self.sets.len())))?;
        let (mut cells, mut lines) = (vec![], vec![]);
        for (i, (f, &label)) in s.frames.iter().zip(&s.labels).take(count).enumerate() {
            cells.push((f.as_raw().clone(), f.width() as usize, f.height() as usize));
            let mut line = format!("row {}: true {:<12}", i + 1, CLASS_NAMES.get(label as usize).copied().unwrap_or("?"));
            for mode in ResizeMode::ALL {
                let p = Pipeline { size: self.size, mode, augment: Default::default() };
                let img = p.apply_image(f, &mut rand::rngs::StdRng::seed_from_u64(0));
                let pred = predict(net, std::slice::from_ref(f), &p, 1, device)?.first().copied().unwrap_or(u32::MAX);
                line += &format!("  {mode:?} -> {:<12}", CLASS_NAMES.get(pred as usize).copied().unwrap_or("?"));
                cells.push((img.into_raw(), self.size, self.size));
            }
            lines.push(line);
        }
        let imgs: Vec<(&[u8], usize, usize)> = cells.iter().map(|c| (c.0.as_slice(), c.1, c.2)).collect();
        Ok(AspectExamples { lines, picture: image_grid_png(&imgs, 4, 4)? })
    }

    pub fn evcxr_display(&self) {
        text(&self.to_table());
    }
}

/// Frames, what each pipeline feeds the network, and its predictions.
#[derive(Debug, Clone)]
pub struct AspectExamples {
    /// One line per frame: the true class and each pipeline's prediction.
    pub lines: Vec<String>,
    /// One row per frame: the frame, then resize, crop, letterbox.
    pub picture: Png,
}

impl AspectExamples {
    /// The lines (as the cell's printed output), then the picture.
    pub fn evcxr_display(&self) {
        println!("{}", self.lines.join("\n"));
        self.picture.evcxr_display();
    }
}
