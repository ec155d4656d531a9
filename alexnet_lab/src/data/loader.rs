//! Batches for training and evaluation (d2l's `DataLoader`): seeded shuffling, the last
//! partial batch kept, and background preparation so decoding/resizing overlaps compute.
//!
//! Only `prefetch` batches exist at a time, so memory stays bounded at any image size
//! (all 60,000 images at 224x224 would be 12 GB of floats).

use std::sync::{mpsc, Arc};

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use rayon::prelude::*;

use super::dataset::Dataset;
use super::transforms::Pipeline;
use crate::sys::rng::mix;
use crate::{Error, Result};

/// One batch: images `(n, c, size, size)` in [0, 1], labels `(n,)` u32, and which examples.
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
    pub indices: Vec<usize>,
}

/// The one check of a batch size (loaders, training, the benchmark): at least 1.
pub(crate) fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::invalid("batch_size", "batch size must be at least 1 (e.g. 128)"));
    }
    Ok(())
}

/// How a [`DataLoader`] batches a split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub shuffle: bool,
    pub seed: u64,
    pub pipeline: Pipeline,
    /// Batches prepared ahead by the background thread.
    pub prefetch: usize,
}

impl LoaderConfig {
    /// Training batches: shuffled every epoch with `seed`, two batches prepared ahead.
    pub fn shuffled(batch_size: usize, pipeline: Pipeline, seed: u64) -> Self {
        Self { batch_size, shuffle: true, seed, pipeline, prefetch: 2 }
    }

    /// Evaluation batches: in the split's order, two prepared ahead.
    pub fn in_order(batch_size: usize, pipeline: Pipeline) -> Self {
        Self { batch_size, shuffle: false, seed: 0, pipeline, prefetch: 2 }
    }
}

/// Iterates a [`Dataset`] in batches, epoch after epoch.
pub struct DataLoader {
    split: Arc<dyn Dataset>,
    cfg: LoaderConfig,
}

impl DataLoader {
    /// A loader over any dataset (`Arc<Split>`, `Arc<ImageFolder>`, `Arc<dyn Dataset>`).
    pub fn new<D: Dataset + ?Sized + 'static>(split: Arc<D>, cfg: LoaderConfig) -> Result<Self>
    where
        Arc<D>: Into<Arc<dyn Dataset>>,
    {
        Self::over(split.into(), cfg)
    }

    /// [`DataLoader::new`] for a dataset already behind `dyn`.
    pub fn over(split: Arc<dyn Dataset>, cfg: LoaderConfig) -> Result<Self> {
        check_batch_size(cfg.batch_size)?;
        if cfg.pipeline.size == 0 {
            return Err(Error::config("image size must be at least 1"));
        }
        if split.is_empty() {
            return Err(Error::data(format!("{} holds no example (check the limit)", split.describe())));
        }
        Ok(Self { split, cfg: LoaderConfig { prefetch: cfg.prefetch.max(1), ..cfg } })
    }

    pub fn len(&self) -> usize {
        self.split.len()
    }

    pub fn is_empty(&self) -> bool {
        self.split.is_empty()
    }

    /// Batches per epoch (the last one may be partial).
    pub fn num_batches(&self) -> usize {
        self.split.len().div_ceil(self.cfg.batch_size)
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.cfg
    }

    /// The dataset it batches.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.split
    }

    /// The order of the examples in `epoch`: shuffled with a seed derived from (seed, epoch),
    /// so a resumed run sees the same order, or in file order when not shuffling.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.split.len()).collect();
        if self.cfg.shuffle {
            idx.shuffle(&mut StdRng::seed_from_u64(mix(self.cfg.seed, epoch as u64, 0)));
        }
        idx
    }

    /// Prepares the pixels of the examples `indices` (parallel over images), `channels`
    /// planes of `size x size` each.
    pub(crate) fn prepare(split: &dyn Dataset, cfg: &LoaderConfig, epoch: usize, indices: &[usize]) -> Result<Vec<f32>> {
        let s = cfg.pipeline.size;
        let channels = split.channels();
        let per = channels * s * s;
        if let Some(&i) = indices.iter().find(|&&i| i >= split.len()) {
            return Err(Error::data(format!("example {i} is outside the split of {} examples", split.len())));
        }
        let mut out = vec![0f32; indices.len() * per];
        out.par_chunks_mut(per).zip(indices.par_iter()).try_for_each(|(dst, &i)| -> Result<()> {
            let img = split.image(i)?;
            let mut rng = StdRng::seed_from_u64(mix(cfg.seed, epoch as u64, i as u64 + 1));
            let mut v = Vec::with_capacity(per);
            cfg.pipeline.apply_channels(&img, channels, &mut rng, &mut v)?;
            if v.len() != dst.len() {
                return Err(Error::data(format!("example {i} gave {} values, expected {}", v.len(), dst.len())));
            }
            dst.copy_from_slice(&v);
            Ok(())
        })?;
        Ok(out)
    }

    /// The batches of one epoch, prepared on a background thread and moved to `device`.
    pub fn epoch(&self, epoch: usize, device: &Device) -> impl Iterator<Item = Result<Batch>> + use<> {
        let (tx, rx) = mpsc::sync_channel::<(Vec<usize>, Result<Vec<f32>>)>(self.cfg.prefetch);
        let split = Arc::clone(&self.split);
        let cfg = self.cfg;
        let order = self.order(epoch);
        std::thread::spawn(move || {
            for chunk in order.chunks(cfg.batch_size) {
                let pixels = Self::prepare(&*split, &cfg, epoch, chunk);
                if tx.send((chunk.to_vec(), pixels)).is_err() {
                    return; // the consumer stopped early
                }
            }
        });
        let split = Arc::clone(&self.split);
        let (size, channels, device) = (cfg.pipeline.size, split.channels(), device.clone());
        rx.into_iter().map(move |(indices, pixels)| {
            let n = indices.len();
            let images = Tensor::from_vec(pixels?, (n, channels, size, size), &device)?;
            let labels = indices.iter().map(|&i| split.label(i).map(|l| l as u32)).collect::<Result<Vec<u32>>>()?;
            let labels = Tensor::from_vec(labels, n, &device)?;
            Ok(Batch { images, labels, indices })
        })
    }
}
