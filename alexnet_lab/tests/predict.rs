//! Photos as people have them: JPEG (with and without an EXIF rotation), WebP, RGB and grey PNG,
//! folders, a broken file, the size limit. Every image is made here with the `image` crate's
//! encoders, from a real Fashion-MNIST test image where the content matters.

mod common;

use std::path::{Path, PathBuf};

use alexnet_lab::train::predict::{collect_images, luma_601, read_photo, to_gray, top, Predictor, MAX_PIXELS};
use alexnet_lab::data::transforms::ResizeMode;
use image::{codecs, ExtendedColorType, GrayImage, ImageEncoder, RgbImage};

/// A 40x20 landscape RGB picture: left half a bright orange, right half a dark blue.
fn two_halves() -> RgbImage {
    RgbImage::from_fn(40, 20, |x, _| if x < 20 { image::Rgb([250, 160, 40]) } else { image::Rgb([10, 20, 90]) })
}

/// An EXIF block (TIFF, little-endian) holding only the orientation tag (0x0112).
fn exif_orientation(o: u16) -> Vec<u8> {
    let mut v = b"II*\0".to_vec();
    v.extend(8u32.to_le_bytes()); // offset of IFD0
    v.extend(1u16.to_le_bytes()); // one entry
    v.extend(0x0112u16.to_le_bytes());
    v.extend(3u16.to_le_bytes()); // SHORT
    v.extend(1u32.to_le_bytes()); // count
    v.extend(o.to_le_bytes());
    v.extend([0, 0]); // value padded to 4 bytes
    v.extend(0u32.to_le_bytes()); // no next IFD
    v
}

fn jpeg(img: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = vec![];
    let mut enc = codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    if let Some(e) = exif {
        enc.set_exif_metadata(e).unwrap();
    }
    enc.write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8).unwrap();
    out
}

fn webp(img: &RgbImage) -> Vec<u8> {
    let mut out = vec![];
    codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = vec![];
    codecs::png::PngEncoder::new(&mut out).write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8).unwrap();
    out
}

fn png_gray(img: &GrayImage) -> Vec<u8> {
    let mut out = vec![];
    codecs::png::PngEncoder::new(&mut out).write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::L8).unwrap();
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn mean(img: &GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
    let mut s = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            s += img.get_pixel(x, y).0[0] as f64;
        }
    }
    s / ((x1 - x0) * (y1 - y0)) as f64
}

#[test]
fn grey_is_pillows_convert_l() {
    // Pillow: Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0)) for these colours.
    for (rgb, l) in [([255, 0, 0], 76), ([0, 255, 0], 150), ([0, 0, 255], 29), ([255, 255, 255], 255), ([250, 160, 40], 173)] {
        assert_eq!(luma_601(rgb[0], rgb[1], rgb[2]), l, "{rgb:?}");
    }
    // The image crate's own to_luma8 uses Rec. 709 weights (red -> 54): not what torchvision does.
    let red = image::DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 0])));
    assert_eq!(to_gray(&red).get_pixel(0, 0).0[0], 76);
}

#[test]
fn png_webp_and_jpeg_decode_to_the_same_grey_picture() {
    let dir = common::tmpdir("predict-formats");
    let img = two_halves();
    let (bright, dark) = (luma_601(250, 160, 40) as f64, luma_601(10, 20, 90) as f64);
    // Lossless: every pixel exactly Pillow's grey.
    for (name, bytes) in [("a.png", png_rgb(&img)), ("a.webp", webp(&img))] {
        let g = read_photo(&write(&dir, name, &bytes)).unwrap();
        assert_eq!(g.dimensions(), (40, 20), "{name}");
        assert_eq!((g.get_pixel(0, 0).0[0], g.get_pixel(39, 19).0[0]), (bright as u8, dark as u8), "{name}");
    }
    // JPEG is lossy: the halves away from the edge within a few levels.
    let g = read_photo(&write(&dir, "a.jpg", &jpeg(&img, None))).unwrap();
    assert_eq!(g.dimensions(), (40, 20));
    assert!((mean(&g, 2, 2, 16, 18) - bright).abs() < 4.0 && (mean(&g, 24, 2, 38, 18) - dark).abs() < 4.0);
    // A grey PNG keeps its values.
    let grey = GrayImage::from_fn(7, 3, |x, y| image::Luma([(x * 30 + y) as u8]));
    assert_eq!(read_photo(&write(&dir, "g.png", &png_gray(&grey))).unwrap(), grey);
    // The format comes from the bytes, not the name.
    assert_eq!(read_photo(&write(&dir, "really-a-png.jpg", &png_gray(&grey))).unwrap(), grey);
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    let dir = common::tmpdir("predict-exif");
    let img = two_halves(); // bright left, dark right, stored 40x20
    // 6: the camera was turned; viewers rotate 90 degrees clockwise: 20x40, the stored left
    // half becomes the top. 8: counter-clockwise: the left half becomes the bottom. 3: 180.
    for (o, dims, bright_top, bright_left) in
        [(1u16, (40, 20), None, Some(true)), (6, (20, 40), Some(true), None), (8, (20, 40), Some(false), None), (3, (40, 20), None, Some(false))]
    {
        let g = read_photo(&write(&dir, &format!("o{o}.jpg"), &jpeg(&img, Some(exif_orientation(o))))).unwrap();
        assert_eq!(g.dimensions(), dims, "orientation {o}");
        let (w, h) = dims;
        if let Some(top) = bright_top {
            let (t, b) = (mean(&g, 2, 2, w - 2, h / 2 - 2), mean(&g, 2, h / 2 + 2, w - 2, h - 2));
            assert_eq!(t > b + 100.0, top, "orientation {o}: top {t}, bottom {b}");
            assert!((t - b).abs() > 100.0);
        }
        if let Some(left) = bright_left {
            let (l, r) = (mean(&g, 2, 2, w / 2 - 2, h - 2), mean(&g, w / 2 + 2, 2, w - 2, h - 2));
            assert_eq!(l > r + 100.0, left, "orientation {o}: left {l}, right {r}");
            assert!((l - r).abs() > 100.0);
        }
    }
    // The same for WebP's EXIF chunk.
    let mut out = vec![];
    let mut enc = codecs::webp::WebPEncoder::new_lossless(&mut out);
    enc.set_exif_metadata(exif_orientation(6)).unwrap();
    enc.write_image(img.as_raw(), 40, 20, ExtendedColorType::Rgb8).unwrap();
    let g = read_photo(&write(&dir, "o6.webp", &out)).unwrap();
    assert_eq!(g.dimensions(), (20, 40));
    assert!(mean(&g, 0, 0, 20, 20) > mean(&g, 0, 20, 20, 40) + 100.0);
}

/// A PNG whose header claims `w x h` pixels (a real 1x1 PNG with its IHDR patched, CRC fixed).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = png_gray(&GrayImage::new(1, 1));
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&b[12..29]);
    b[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    b
}

#[test]
fn bad_photos_are_clear_errors() {
    let dir = common::tmpdir("predict-bad");
    let e = read_photo(&write(&dir, "huge.png", &png_claiming(60_000, 60_000))).unwrap_err().to_string();
    assert!(e.contains("60000x60000") && e.contains(&format!("more than the {}", MAX_PIXELS / 1_000_000)), "{e}");
    let e = read_photo(&write(&dir, "notes.jpg", b"just some text, not a photo")).unwrap_err().to_string();
    assert!(e.contains("notes.jpg is not an image") && e.contains("PNG, JPEG or WebP"), "{e}");
    let mut cut = jpeg(&two_halves(), None);
    cut.truncate(cut.len() / 3);
    let e = read_photo(&write(&dir, "cut.jpg", &cut)).unwrap_err().to_string();
    assert!(e.contains("cut.jpg is truncated"), "{e}");
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    let e = read_photo(&write(&dir, "anim.gif", gif)).unwrap_err().to_string();
    assert!(e.contains("anim.gif is a Gif image") && e.contains("convert it"), "{e}");
}

/// Where a file is cut: after its header (JPEG: the start-of-scan segment; PNG: IHDR; WebP: the
/// RIFF and VP8L headers), in the middle, and short of its last byte.
fn cuts(bytes: &[u8]) -> [(&'static str, usize); 3] {
    let header = if bytes.starts_with(&[0xFF, 0xD8]) {
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        sos + 2 + u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]) as usize
    } else if bytes.starts_with(b"\x89PNG") {
        33
    } else {
        30
    };
    [("header", header), ("half", bytes.len() / 2), ("last-byte", bytes.len() - 1)]
}

/// A file cut short (an interrupted download or copy) is an error naming it, in every format and
/// wherever it is cut; before, the `image` crate decoded a cut JPEG as grey in silence (and a PNG
/// short of its last chunk as if whole). The whole files decode.
#[test]
fn truncated_png_jpeg_and_webp_files_are_errors_naming_them() {
    let dir = common::tmpdir("predict-truncated");
    // A real Fashion-MNIST test image (a 96x96 fixture), as colour, so every encoder has content.
    let fixture = image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/resize/test0_96.png")).unwrap();
    let img = fixture.to_rgb8();
    for (ext, bytes) in [("jpg", jpeg(&img, None)), ("png", png_rgb(&img)), ("webp", webp(&img))] {
        assert_eq!(read_photo(&write(&dir, &format!("whole.{ext}"), &bytes)).unwrap().dimensions(), (96, 96));
        for (at, n) in cuts(&bytes) {
            let name = format!("{at}.{ext}");
            let e = read_photo(&write(&dir, &name, &bytes[..n])).unwrap_err().to_string();
            assert!(e.contains(&format!("{name} is truncated")) && e.contains("again"), "{name} ({n} of {} bytes): {e}", bytes.len());
        }
    }
    // Bytes after the end of the image (some cameras append data) are not a cut.
    let mut tail = jpeg(&img, None);
    tail.extend_from_slice(b"trailing data");
    read_photo(&write(&dir, "tail.jpg", &tail)).unwrap();
}

#[test]
fn folders_are_searched_recursively_for_image_files_sorted() {
    let dir = common::tmpdir("predict-folder");
    let _ = std::fs::remove_dir_all(&dir);
    let img = two_halves();
    write(&dir, "b.PNG", &png_rgb(&img));
    write(&dir, "a.jpg", &jpeg(&img, None));
    write(&dir, "sub/c.webp", &webp(&img));
    write(&dir, "sub/readme.txt", b"not an image");
    write(&dir, "sub/.hidden.png", b"a macOS resource fork, say");
    write(&dir, "sub/old.gif", b"GIF89a");
    write(&dir, "empty/.keep", b"");
    // A symlink back to the folder itself: not followed (it would never end).
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
    let (files, problems) = collect_images(&[dir.to_path_buf(), dir.join("a.jpg"), dir.join("missing.png"), dir.join("empty")]);
    let names: Vec<String> = files.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
    assert_eq!(names, ["a.jpg", "b.PNG", "sub/c.webp", "sub/old.gif"]);
    let problems: Vec<String> = problems.iter().map(|(_, e)| e.to_string()).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("missing.png") && problems[1].contains("holds no image file"), "{problems:?}");
}

#[test]
fn top_k_is_ordered_and_named() {
    let fashion = alexnet_lab::data::CLASS_NAMES.map(String::from).to_vec();
    let t = top(&[0.1, 0.5, 0.05, 0.3, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0], 3, &fashion);
    let got: Vec<(usize, &str)> = t.iter().map(|g| (g.label, g.class.as_str())).collect();
    assert_eq!(got, [(1, "trouser"), (3, "dress"), (0, "t-shirt")]);
    assert_eq!(top(&[0.1; 10], 2, &fashion).iter().map(|g| g.label).collect::<Vec<_>>(), [0, 1]);
}

/// A trained-enough model would make this a test of the classes; here the point is the plumbing:
/// the photo of a real test image, saved as a 2:1 JPEG, reaches the network as what each
/// pipeline makes of it, and the predictor agrees with classifying those inputs directly.
#[test]
fn predictor_feeds_the_network_what_the_pipeline_makes() {
    use alexnet_lab::candle::Device;
    let dir = common::tmpdir("predict-run");
    let _ = std::fs::remove_dir_all(&dir);
    let (_net, varmap) = alexnet_lab::ModelKind::AlexNet.init(Some([1, 67, 67]), 3, &Device::Cpu).unwrap();
    let cfg = alexnet_lab::train::TrainConfig::smoke();
    let meta = alexnet_lab::train::checkpoint::CheckpointMeta::new(cfg, Default::default(), alexnet_lab::data::CLASS_NAMES.map(String::from).to_vec(), false);
    alexnet_lab::train::checkpoint::save(&dir, &varmap, &Default::default(), &meta).unwrap();

    let test = &common::hub_data().test;
    let obj = GrayImage::from_raw(28, 28, test.image(0).unwrap().to_vec()).unwrap();
    let mut frame = GrayImage::new(56, 28);
    image::imageops::replace(&mut frame, &obj, 14, 0);
    let rgb = image::DynamicImage::ImageLuma8(frame.clone()).to_rgb8();
    let photo = read_photo(&write(&dir, "wide.jpg", &jpeg(&rgb, None))).unwrap();
    assert_eq!(photo.dimensions(), (56, 28));

    for mode in [ResizeMode::Resize, ResizeMode::Crop, ResizeMode::Letterbox] {
        let p = Predictor::load(&dir, mode, false, &Device::Cpu).unwrap();
        let seen = p.input_image(&photo);
        assert_eq!(seen.dimensions(), (67, 67));
        let guesses = p.classify(&photo, 10).unwrap();
        assert_eq!(guesses.len(), 10);
        let total: f64 = guesses.iter().map(|g| g.probability).sum();
        assert!((total - 1.0).abs() < 1e-4 && guesses.windows(2).all(|w| w[0].probability >= w[1].probability));
        // Crop of a centred 2:1 frame is the object itself, scaled: the middle is the object's middle.
        if mode == ResizeMode::Crop {
            let direct = alexnet_lab::data::transforms::resize_exact(&image::imageops::crop_imm(&frame, 14, 0, 28, 28).to_image(), 67, 67);
            let diff: f64 = seen.as_raw().iter().zip(direct.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>() / (67.0 * 67.0);
            assert!(diff < 4.0, "crop differs from the object by {diff} grey levels on average (more than JPEG noise)");
        }
        // Letterbox of a 2:1 frame leaves black bands above and below.
        if mode == ResizeMode::Letterbox {
            assert_eq!(mean(&seen, 0, 0, 67, 10), 0.0);
        }
        // Inverting flips the photo before the pipeline (letterbox then pads with black, as in
        // Fashion-MNIST, so it is left out here).
        if mode == ResizeMode::Letterbox {
            continue;
        }
        let inv = Predictor::load(&dir, mode, true, &Device::Cpu).unwrap().input_image(&photo);
        assert!(seen.as_raw().iter().zip(inv.as_raw()).all(|(a, b)| (*a as i32 + *b as i32 - 255).abs() <= 1));
    }
}
