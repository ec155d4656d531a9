//! Reading the images people have: PNG, JPEG or WebP, any size, upright, as decoded pixels
//! (colour kept, [`read_image`]) or grey the way torchvision's `Grayscale()` makes it
//! ([`read_photo`]); and finding the image files of folders ([`collect_images`]).
//!
//! What happens to a file, in order:
//! 1. read (a regular file of at most [`MAX_PHOTO_BYTES`]) and decoded by the `image` crate
//!    (the format is read from the file's first bytes, not its name); its size is read from the
//!    header first and an image over [`MAX_PIXELS`] is refused before any pixel is decoded, and so
//!    is a file cut short (its structure ends early: the decoder would fill the rest with grey);
//! 2. turned upright by its EXIF orientation (JPEG, WebP, PNG): a phone photo taken upright but
//!    stored sideways comes out upright;
//! 3. for grey ([`to_gray`]): Pillow's `convert("L")`, ITU-R 601-2 luma
//!    `L = R·299/1000 + G·587/1000 + B·114/1000` in Pillow's fixed point; alpha is dropped.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader};

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

/// What a photo file is expected to be, in errors.
const PHOTO: &str = "a photo (PNG, JPEG or WebP)";

/// The largest photo file `predict` reads.
pub const MAX_PHOTO_BYTES: u64 = 256 << 20;

/// Reads a PNG, JPEG or WebP photo, upright (EXIF orientation applied) and grey.
pub fn read_photo(path: &Path) -> Result<GrayImage> {
    Ok(to_gray(&read_image(path)?))
}

/// Reads a PNG, JPEG or WebP image, upright (EXIF orientation applied), its colours as stored.
pub fn read_image(path: &Path) -> Result<DynamicImage> {
    if path.is_dir() {
        return Err(Error::data(format!("{} is a folder, not an image", path.display())));
    }
    let bytes = crate::sys::fs::read_regular(path, MAX_PHOTO_BYTES, PHOTO)?;
    decode_image_bytes(&bytes, &path.display().to_string())
}

/// [`read_image`] of an image file's bytes in memory (`what` names them in errors).
pub(crate) fn decode_image_bytes(bytes: &[u8], what: &str) -> Result<DynamicImage> {
    whole(bytes, what)?;
    let mut decoder = decoder(std::io::Cursor::new(bytes), what)?;
    let bad = |e: image::ImageError| Error::data(format!("{what} cannot be decoded: {e}"));
    // A missing or unreadable EXIF block means "as stored", as in every photo viewer.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// [`probe_image`] of an image file's bytes in memory.
pub(crate) fn probe_image_bytes(bytes: &[u8], what: &str) -> Result<ImageHeader> {
    whole(bytes, what)?;
    header(&decoder(std::io::Cursor::new(bytes), what)?)
}

/// A file cut short (an interrupted download or copy) is refused, naming it, before it is
/// decoded: the decoder would fill the missing part with grey in silence.
fn whole(bytes: &[u8], what: &str) -> Result<()> {
    match super::complete::cut_short(bytes) {
        None => Ok(()),
        Some(why) => Err(Error::data(format!(
            "{what} is truncated: {why}. Copy or download it again (or remove it)"
        ))),
    }
}

fn header(d: &dyn ImageDecoder) -> Result<ImageHeader> {
    let (width, height) = d.dimensions();
    Ok(ImageHeader { width, height, color: d.color_type().has_color() })
}

/// What an image file's header says, read without decoding its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub width: u32,
    pub height: u32,
    /// Whether it stores colour (RGB), not grey levels only.
    pub color: bool,
}

/// Reads the header of a PNG, JPEG or WebP file, with [`read_image`]'s checks (a regular file,
/// its format from its first bytes, at most [`MAX_PIXELS`], not truncated): a folder of photos
/// is checked without decoding them (the file is read, its pixels are not decoded).
pub fn probe_image(path: &Path) -> Result<ImageHeader> {
    let bytes = crate::sys::fs::read_regular(path, MAX_PHOTO_BYTES, PHOTO)?;
    probe_image_bytes(&bytes, &path.display().to_string())
}

/// The decoder of a PNG, JPEG or WebP stream (the format from its first bytes only: a file's
/// name may lie), refusing other formats and images over [`MAX_PIXELS`] by their header.
fn decoder<'a, R: std::io::BufRead + std::io::Seek + 'a>(r: R, what: &str) -> Result<Box<dyn ImageDecoder + 'a>> {
    let reader = ImageReader::new(r).with_guessed_format().map_err(|e| Error::io(format!("cannot read {what}"), e))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => {}
        Some(f) => {
            return Err(Error::data(format!(
                "{what} is a {f:?} image; the lab reads PNG, JPEG and WebP: convert it to one of those"
            )))
        }
        None => {
            return Err(Error::data(format!(
                "{what} is not an image: its first bytes are not those of a PNG, JPEG or WebP file"
            )))
        }
    }
    let decoder = reader.into_decoder().map_err(|e| Error::data(format!("{what} cannot be decoded: {e}")))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(Error::data(format!(
            "{what} is {w}x{h} pixels ({:.0} megapixels), more than the {} megapixels this lab decodes: scale it down first",
            w as f64 * h as f64 / 1e6,
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(Box::new(decoder))
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
pub(crate) fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
