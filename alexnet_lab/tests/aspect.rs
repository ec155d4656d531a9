//! Forced resize vs crop vs letterbox on non-square frames made from real test images.

mod common;

use alexnet_lab::aspect;
use alexnet_lab::candle::Device;
use alexnet_lab::models::ModelKind;
use alexnet_lab::transforms::{Pipeline, ResizeMode};
use common::*;

fn pipe(size: usize, mode: ResizeMode) -> Pipeline {
    Pipeline { size, mode, augment: Default::default() }
}

#[test]
fn frames_hold_the_whole_real_image_at_the_asked_aspect() {
    let data = hub_data();
    let centred = aspect::framed_set(&data.test, 20, 2.0, 0.0, 1).unwrap();
    assert_eq!(centred.frames.len(), 20);
    assert_eq!(centred.labels, data.test.labels[..20]);
    for (i, f) in centred.frames.iter().enumerate() {
        assert_eq!(f.dimensions(), (56, 28));
        // A centred object: the centre crop gives the original image back, pixel for pixel.
        let crop = pipe(28, ResizeMode::Crop).apply_image(f, &mut rand::rng());
        assert_eq!(crop.as_raw().as_slice(), data.test.image(i));
    }
    let anywhere = aspect::framed_set(&data.test, 20, 0.5, 1.0, 1).unwrap();
    let mut offsets = std::collections::HashSet::new();
    for (i, f) in anywhere.frames.iter().enumerate() {
        assert_eq!(f.dimensions(), (28, 56), "portrait");
        let sum = |px: &[u8]| px.iter().map(|&p| p as u64).sum::<u64>();
        assert_eq!(sum(f.as_raw()), sum(data.test.image(i)), "the whole object is inside the frame");
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

#[test]
fn crop_of_centred_frames_predicts_like_the_square_originals() {
    let data = hub_data();
    let (net, _) = ModelKind::LeNet.init(None, 3, &Device::Cpu).unwrap();
    let set = aspect::framed_set(&data.test, 64, 1.5, 0.0, 0).unwrap();
    let via_crop = aspect::predict(&net, &set.frames, &pipe(28, ResizeMode::Crop), 16, &Device::Cpu).unwrap();
    let squares: Vec<_> = (0..64).map(|i| alexnet_lab::transforms::gray(28, 28, data.test.image(i)).unwrap()).collect();
    let direct = aspect::predict(&net, &squares, &Pipeline::resize(28), 64, &Device::Cpu).unwrap();
    assert_eq!(via_crop, direct);
    let squashed = aspect::predict(&net, &set.frames, &pipe(28, ResizeMode::Resize), 16, &Device::Cpu).unwrap();
    assert_eq!(squashed.len(), 64);
    let acc = aspect::accuracy(&direct, &set.labels);
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(aspect::accuracy(&[1, 2, 3, 4], &[1, 2, 0, 0]), 0.5);
    let e = aspect::predict(&net, &set.frames, &Pipeline::resize(96), 16, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("the model takes 1x28x28 inputs") && e.contains("1x96x96"), "{e}");
}
