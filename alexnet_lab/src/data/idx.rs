//! The classic IDX files (`train-images-idx3-ubyte.gz` ...), gzip-compressed.

use std::io::Read;
use std::path::Path;

use super::{FashionMnist, Split, SIDE};
use crate::{Error, Result};

/// `[train images, train labels, test images, test labels]`.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn read_file(path: &Path) -> Result<Vec<u8>> {
    crate::sys::fs::read_regular(path, MAX_IDX_BYTES as u64, "a gzipped IDX file")
}

/// The most bytes an IDX file may decompress to (Fashion-MNIST's largest, the training
/// images, is 47 MB): a header claiming more is refused before anything is read or allocated.
pub const MAX_IDX_BYTES: usize = 1 << 30;

/// Decompresses a gzip buffer (`what` names it in errors), reading at most `limit` bytes: a
/// gzip bomb (a small file that inflates to gigabytes) is refused once it passes the limit.
pub(crate) fn gunzip(gz: &[u8], what: &str, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::data(format!("{what}: not a complete gzip file ({e}); download it again")))?;
    if out.len() > limit {
        return Err(Error::data(format!("{what}: decompresses to more than {limit} bytes, more than its header announces; download it again")));
    }
    Ok(out)
}

/// Decompresses a gzipped IDX file of `dims` dimensions: first its header, whose dimensions give
/// the size of what follows (checked against [`MAX_IDX_BYTES`] before it is read), then at most
/// that many bytes (and one more, to find a file longer than its header says).
fn gunzip_idx(gz: &[u8], dims: usize, what: &str) -> Result<Vec<u8>> {
    let header = 4 + 4 * dims;
    let mut head = Vec::with_capacity(header);
    flate2::read::GzDecoder::new(gz)
        .take(header as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::data(format!("{what}: not a complete gzip file ({e}); download it again")))?;
    // A wrong magic or a short header is reported as such (before the sizes it would give).
    let magic = [0, 0, 0x08, u8::try_from(dims).unwrap_or(u8::MAX)];
    if head.len() < header || head.get(..4) != Some(&magic[..]) {
        parse_idx(&head, dims, what)?;
    }
    let size = head
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|b| <[u8; 4]>::try_from(b).map_or(0, u32::from_be_bytes) as usize)
        .try_fold(1usize, |a, d| a.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES);
    match size {
        Some(n) => gunzip(gz, what, header + n),
        None => Err(Error::data(format!(
            "{what}: its IDX header announces more than {MAX_IDX_BYTES} bytes of data (dimensions {:02x?}); not a \
             Fashion-MNIST file",
            head.get(4..).unwrap_or_default()
        ))),
    }
}

/// Parses an IDX buffer: checks the magic (unsigned bytes, `dims` dimensions) and that the
/// dimensions agree with the length. Returns the dimensions and the payload.
pub fn parse_idx<'a>(buf: &'a [u8], dims: usize, what: &str) -> Result<(Vec<usize>, &'a [u8])> {
    let header = 4 + 4 * dims;
    let (Some((head, payload)), Ok(dims_u8)) = (buf.split_at_checked(header), u8::try_from(dims)) else {
        return Err(Error::data(format!("{what}: {} bytes is shorter than the IDX header ({header})", buf.len())));
    };
    let magic = [0, 0, 0x08, dims_u8];
    let (found, sizes) = head.split_at(4);
    if found != magic {
        return Err(Error::data(format!(
            "{what}: bad IDX magic {found:02x?}, expected {magic:02x?} (unsigned bytes, {dims} dimensions)"
        )));
    }
    let shape: Vec<usize> = sizes
        .chunks_exact(4)
        .map(|b| <[u8; 4]>::try_from(b).map_or(0, u32::from_be_bytes) as usize)
        .collect();
    let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if expected != Some(payload.len()) {
        return Err(Error::data(format!(
            "{what}: the header says {shape:?} ({} bytes) but the file holds {} bytes after the header",
            expected.map_or("too many".into(), |e| e.to_string()),
            payload.len()
        )));
    }
    Ok((shape, payload))
}

/// Reads an `idx3-ubyte.gz` image file of 28x28 images.
pub fn read_idx_images(path: &Path) -> Result<Vec<u8>> {
    decode_images(&read_file(path)?, &path.display().to_string())
}

/// Reads an `idx1-ubyte.gz` label file.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    decode_labels(&read_file(path)?, &path.display().to_string())
}

/// The 28x28 images of a gzipped `idx3-ubyte` buffer.
pub fn decode_images(gz: &[u8], what: &str) -> Result<Vec<u8>> {
    let buf = gunzip_idx(gz, 3, what)?;
    let (shape, data) = parse_idx(&buf, 3, what)?;
    if let [_, h, w] = shape.as_slice() {
        if [*h, *w] != [SIDE, SIDE] {
            return Err(Error::data(format!("{what}: images are {h}x{w}, expected 28x28")));
        }
    }
    Ok(data.to_vec())
}

/// The labels of a gzipped `idx1-ubyte` buffer.
pub fn decode_labels(gz: &[u8], what: &str) -> Result<Vec<u8>> {
    Ok(parse_idx(&gunzip_idx(gz, 1, what)?, 1, what)?.1.to_vec())
}

/// Loads both splits from a directory holding the four IDX files.
pub fn load_idx_dir(dir: &Path) -> Result<FashionMnist> {
    check_present(dir, &IDX_FILES, "four")?;
    let [ti, tl, si, sl] = IDX_FILES;
    Ok(FashionMnist { train: idx_split(dir, ti, tl)?, test: idx_split(dir, si, sl)? })
}

/// The test split only (the two `t10k-*` files).
pub(crate) fn load_idx_test(dir: &Path) -> Result<Split> {
    let [_, _, si, sl] = IDX_FILES;
    check_present(dir, &[si, sl], "two test")?;
    idx_split(dir, si, sl)
}

fn check_present(dir: &Path, files: &[&str], which: &str) -> Result<()> {
    let missing: Vec<&str> = files.iter().copied().filter(|f| !dir.join(f).is_file()).collect();
    if !missing.is_empty() {
        return Err(Error::data(format!(
            "{} lacks {} of the {which} Fashion-MNIST IDX files: {}; put all four there, or drop \
             --data-dir to use the hub",
            dir.display(),
            missing.len(),
            missing.join(", ")
        )));
    }
    Ok(())
}

fn idx_split(dir: &Path, img: &str, lab: &str) -> Result<Split> {
    let (ip, lp) = (dir.join(img), dir.join(lab));
    let images = read_idx_images(&ip)?;
    let labels = read_idx_labels(&lp)?;
    Split::new(images, labels, &format!("{} + {}", ip.display(), lp.display()))
}
