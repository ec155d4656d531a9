//! Fashion-MNIST from the hub (parquet) and from IDX files, transforms, and the loader,
//! on the real data.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use alexnet_lab::candle::Device;
use alexnet_lab::data::{self, load_idx_dir, CLASS_NAMES};
use alexnet_lab::data::loader::{DataLoader, LoaderConfig};
use alexnet_lab::data::transforms::{gray, letterbox, resize_center_crop, resize_exact, Augment, Pipeline, ResizeMode};
use common::*;

#[test]
fn hub_and_idx_give_identical_data() {
    let hub = hub_data();
    let idx = load_idx_dir(&idx_dir()).unwrap();
    assert_eq!((hub.train.len(), hub.test.len()), (60_000, 10_000));
    assert!(hub.train == idx.train, "train splits differ");
    assert!(hub.test == idx.test, "test splits differ");
    // And identical tensors once through the loader.
    let cfg = LoaderConfig { batch_size: 64, shuffle: false, seed: 0, pipeline: Pipeline::resize(32), prefetch: 2 };
    let a = DataLoader::new(Arc::new(hub.test.take(64)), cfg).unwrap();
    let b = DataLoader::new(Arc::new(idx.test.take(64)), cfg).unwrap();
    let ba = a.epoch(0, &Device::Cpu).next().unwrap().unwrap();
    let bb = b.epoch(0, &Device::Cpu).next().unwrap().unwrap();
    let d = (ba.images - bb.images).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(d, 0.0);
}

#[test]
fn classes_are_balanced_and_named() {
    let d = hub_data();
    assert_eq!(d.train.class_counts(), [6000; 10]);
    assert_eq!(d.test.class_counts(), [1000; 10]);
    assert_eq!(CLASS_NAMES[9], "ankle boot");
    assert_eq!(d.test.labels()[..3], [9, 2, 1]); // the first test images: ankle boot, pullover, trouser
    assert!(data::class_name(10).unwrap_err().to_string().contains("outside 0-9"));
}

#[test]
fn resize_agrees_with_pillow_within_one_level() {
    let d = hub_data();
    for i in 0..4 {
        let img = gray(28, 28, d.test.image(i).unwrap()).unwrap();
        for size in [224usize, 96, 227, 65] {
            let path = workspace().join(format!("data/fixtures/resize/test{i}_{size}.png"));
            let pil = image::open(&path).unwrap().into_luma8();
            let ours = resize_exact(&img, size, size);
            let worst = ours.as_raw().iter().zip(pil.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(worst <= 1, "image {i} at {size}: max difference {worst}/255");
        }
    }
}

#[test]
fn crop_and_letterbox_keep_the_aspect() {
    // A non-square image: a real test image stretched to 28 wide x 56 tall.
    let d = hub_data();
    let tall = resize_exact(&gray(28, 28, d.test.image(0).unwrap()).unwrap(), 28, 56);
    let c = resize_center_crop(&tall, 64);
    assert_eq!(c.dimensions(), (64, 64));
    // Shorter side 28 -> 64: the crop is the middle of a 64x128 image.
    let full = resize_exact(&tall, 64, 128);
    assert_eq!(c.as_raw()[..], image::imageops::crop_imm(&full, 0, 32, 64, 64).to_image().as_raw()[..]);
    let l = letterbox(&tall, 64);
    assert_eq!(l.dimensions(), (64, 64));
    // Longer side 56 -> 64, width 28 -> 32: black bands of 16 columns on both sides.
    for y in 0..64 {
        for x in (0..16).chain(48..64) {
            assert_eq!(l.get_pixel(x, y)[0], 0);
        }
    }
    assert!(l.as_raw().iter().any(|&p| p > 0));
}

#[test]
fn augmentation_is_seeded_and_changes_images() {
    let d = hub_data();
    let img = gray(28, 28, d.test.image(1).unwrap()).unwrap();
    let p = Pipeline { size: 32, mode: ResizeMode::Resize, augment: Augment { random_crop: true, hflip: true } };
    use rand::SeedableRng;
    let run = |seed| p.apply_image(&img, &mut rand::rngs::StdRng::seed_from_u64(seed));
    assert_eq!(run(1), run(1));
    let plain = Pipeline::resize(32).apply_image(&img, &mut rand::rngs::StdRng::seed_from_u64(1));
    assert!((0..8).any(|s| run(s) != plain));
}

#[test]
fn loader_covers_every_example_once_per_epoch_and_keeps_the_last_partial_batch() {
    let d = hub_data();
    let split = Arc::new(d.train.take(1000));
    let cfg = LoaderConfig { batch_size: 128, shuffle: true, seed: 7, pipeline: Pipeline::resize(28), prefetch: 2 };
    let loader = DataLoader::new(split.clone(), cfg).unwrap();
    assert_eq!(loader.num_batches(), 8);
    let mut orders = vec![];
    for epoch in 0..2 {
        let mut seen = vec![];
        let mut sizes = vec![];
        for b in loader.epoch(epoch, &Device::Cpu) {
            let b = b.unwrap();
            sizes.push(b.images.dims()[0]);
            assert_eq!(b.images.dims()[1..], [1, 28, 28]);
            let labels: Vec<u32> = b.labels.to_vec1().unwrap();
            let expected: Vec<u32> = b.indices.iter().map(|&i| split.labels()[i] as u32).collect();
            assert_eq!(labels, expected);
            seen.extend(b.indices);
        }
        assert_eq!(sizes, [128, 128, 128, 128, 128, 128, 128, 104]);
        let set: HashSet<usize> = seen.iter().copied().collect();
        assert_eq!((seen.len(), set.len()), (1000, 1000));
        orders.push(seen);
    }
    assert_ne!(orders[0], orders[1], "each epoch is reshuffled");
    assert_eq!(loader.order(1), orders[1], "the order of an epoch is reproducible (resume)");
    // Pixels are ToTensor() of the raw bytes at 28x28.
    let first = loader.epoch(0, &Device::Cpu).next().unwrap().unwrap();
    let px: Vec<f32> = first.images.get(0).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let raw: Vec<f32> = split.image(first.indices[0]).unwrap().iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(px, raw);
}

#[test]
fn batch_size_zero_is_a_clear_error() {
    let d = hub_data();
    let cfg = LoaderConfig { batch_size: 0, shuffle: false, seed: 0, pipeline: Pipeline::resize(28), prefetch: 1 };
    let e = DataLoader::new(Arc::new(d.test.take(10)), cfg).err().unwrap().to_string();
    assert!(e.contains("batch size must be at least 1"), "{e}");
}
