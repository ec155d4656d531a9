//! Forced resize vs crop vs letterbox on non-square frames made from real test images.

mod common;

use alexnet_lab::lecture::aspect;
use alexnet_lab::train::checkpoint;
use alexnet_lab::candle::Device;
use alexnet_lab::data::transforms::{Pipeline, ResizeMode};
use common::*;

fn pipe(size: usize, mode: ResizeMode) -> Pipeline {
    Pipeline { size, mode, augment: Default::default() }
}

#[test]
fn frames_hold_the_whole_real_image_at_the_asked_aspect() {
    let data = hub_data();
    let centred = aspect::framed_set(&data.test, 20, 2.0, 0.0, 1).unwrap();
    assert_eq!(centred.frames.len(), 20);
    assert_eq!(centred.labels, data.test.labels()[..20]);
    for (i, f) in centred.frames.iter().enumerate() {
        assert_eq!(f.dimensions(), (56, 28));
        // A centred object: the centre crop gives the original image back, pixel for pixel.
        let crop = pipe(28, ResizeMode::Crop).apply_image(f, &mut rand::rng());
        assert_eq!(crop.as_raw().as_slice(), data.test.image(i).unwrap());
    }
    let anywhere = aspect::framed_set(&data.test, 20, 0.5, 1.0, 1).unwrap();
    let mut offsets = std::collections::HashSet::new();
    for (i, f) in anywhere.frames.iter().enumerate() {
        assert_eq!(f.dimensions(), (28, 56), "portrait");
        let sum = |px: &[u8]| px.iter().map(|&p| p as u64).sum::<u64>();
        assert_eq!(sum(f.as_raw()), sum(data.test.image(i).unwrap()), "the whole object is inside the frame");
        offsets.insert(f.as_raw().iter().position(|&p| p > 0).unwrap() / 28);
    }
    assert!(offsets.len() > 5, "jitter 1 moves objects around: first rows {offsets:?}");
    // Letterbox shrinks a 2:1 frame to half height: the top and bottom quarters stay black.
    let lb = pipe(28, ResizeMode::Letterbox).apply_image(&centred.frames[0], &mut rand::rng());
    assert!(lb.as_raw()[..28 * 7].iter().chain(&lb.as_raw()[28 * 21..]).all(|&p| p == 0));
}

#[test]
fn bad_framing_requests_are_clear_errors() {
    let data = hub_data();
    for (a, j, n, needle) in [
        (0.0, 0.0, 5, "aspect ratio must be a positive number"),
        (f64::NAN, 0.0, 5, "aspect ratio must be a positive number"),
        (2.0, 1.5, 5, "jitter must be between 0"),
        (2.0, 0.5, 10_001, "the split has 10000"),
    ] {
        let e = aspect::framed_set(&data.test, n, a, j, 0).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}

/// d2l's LeNet trained with the `lenet` profile (test accuracy 0.804; `data/fixtures/lenet-d2l`,
/// recorded in docs/results.md).
fn trained_lenet() -> alexnet_lab::nn::Net {
    checkpoint::load_model(&workspace().join("data/fixtures/lenet-d2l"), &Device::Cpu).unwrap().0
}

#[test]
fn crop_of_centred_frames_predicts_like_the_square_originals() {
    let data = hub_data();
    let net = trained_lenet();
    let n = 400;
    let squares: Vec<_> = (0..n).map(|i| alexnet_lab::data::transforms::gray(28, 28, data.test.image(i).unwrap()).unwrap()).collect();
    let direct = aspect::predict(&net, &squares, &Pipeline::resize(28), 64, &Device::Cpu).unwrap();
    let labels = &data.test.labels()[..n];
    let acc = alexnet_lab::train::accuracy(&direct, labels);
    // The model's 0.804 on all 10,000; on these 400 within a few standard errors (0.02).
    assert!((0.72..0.89).contains(&acc), "square images: {acc}");
    // A centred object in a 1.5:1 frame: crop gives back exactly the square image.
    let set = aspect::framed_set(&data.test, n, 1.5, 0.0, 0).unwrap();
    let via_crop = aspect::predict(&net, &set.frames, &pipe(28, ResizeMode::Crop), 16, &Device::Cpu).unwrap();
    assert_eq!(via_crop, direct);
    // A 2:1 frame squashed to a square halves the object's width, letterboxed halves its size:
    // the model, which never saw either, does much worse than on the originals.
    let wide = aspect::framed_set(&data.test, n, 2.0, 0.0, 0).unwrap();
    let squashed = alexnet_lab::train::accuracy(&aspect::predict(&net, &wide.frames, &pipe(28, ResizeMode::Resize), 64, &Device::Cpu).unwrap(), labels);
    let boxed = alexnet_lab::train::accuracy(&aspect::predict(&net, &wide.frames, &pipe(28, ResizeMode::Letterbox), 64, &Device::Cpu).unwrap(), labels);
    let cropped = alexnet_lab::train::accuracy(&aspect::predict(&net, &wide.frames, &pipe(28, ResizeMode::Crop), 64, &Device::Cpu).unwrap(), labels);
    eprintln!("square {acc:.3}; 2:1 centred: resize {squashed:.3}, letterbox {boxed:.3}, crop {cropped:.3}");
    assert_eq!(cropped, acc);
    assert!(squashed < acc - 0.1 && boxed < acc - 0.1, "resize {squashed}, letterbox {boxed} vs {acc}");
    assert_eq!(alexnet_lab::train::accuracy(&[1u32, 2, 3, 4], &[1u32, 2, 0, 0]), 0.5);
    let e = aspect::predict(&net, &set.frames, &Pipeline::resize(96), 16, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("the model takes 1x28x28 inputs") && e.contains("1x96x96"), "{e}");
}

/// The table carries each accuracy's 95% interval, and `best` says whether the winner's lead is
/// outside what chance gives on n images.
#[test]
fn best_says_whether_a_lead_is_outside_chance() {
    assert!((aspect::ci95(0.5, 10_000) - 0.0098).abs() < 1e-4);
    assert!((aspect::ci95(0.9, 100) - 0.0588).abs() < 1e-4);
    let data = hub_data();
    let set = aspect::framed_set(&data.test, 10, 2.0, 0.0, 0).unwrap();
    let cmp = |n: usize, acc: [f64; 3]| aspect::AspectComparison { n, size: 67, sets: vec![("2:1", set.clone())], accuracy: vec![acc] };
    let many = cmp(10_000, [0.80, 0.85, 0.83]);
    assert!(many.best().contains("best: crop (0.850, leads by 0.020, outside the ±0.010"), "{}", many.best());
    assert!(many.to_table().contains("0.850 ± 0.007"), "{}", many.to_table());
    let few = cmp(100, [0.80, 0.85, 0.83]);
    assert!(few.best().contains("within the ±0.102"), "{}", few.best());
    assert!(cmp(100, [0.85, 0.85, 0.80]).best().contains("tied"));
}
