//! Reading a hub parquet file with polars: the schema check, the labels, the PNG decode.
//!
//! polars-parquet 0.55 trusts the counts in a file's thrift metadata. Found by fuzzing
//! (`fuzz/regressions/parquet`): a corrupt list length in the footer becomes a 38 GB
//! `Vec::with_capacity`, a negative value count in a data page header a 2^61-byte validity
//! bitmap; a failed allocation aborts the process, which no `catch_unwind` stops. So before
//! polars reads a file, [`check_structure`] reads its footer and every page header with the
//! Apache Arrow project's `parquet` crate (headers only: nothing is decompressed) and checks the
//! counts polars will allocate for. Both run inside [`crate::error::catch_panic`], which turns a
//! panic of either reader into an error.

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use polars::prelude::*;

use super::{Split, PIXELS, SIDE};
use crate::{Error, Result};

/// Reads one hub parquet file (`image` = struct{bytes: PNG, path}, `label` = int64) and decodes
/// its PNGs. Every problem names the file, the row and what was expected.
pub fn load_parquet(path: &Path) -> Result<Split> {
    let what = path.display().to_string();
    let bytes = crate::sys::fs::read_regular(path, 4 << 30, "a parquet file of the hub dataset")?;
    parquet_bytes_to_split(&bytes, &what)
}

/// [`load_parquet`] from bytes in memory (`what` names them in errors).
pub fn parquet_bytes_to_split(bytes: &[u8], what: &str) -> Result<Split> {
    let unreadable = format!("{what} is not a readable parquet file");
    crate::error::catch_panic(&format!("{unreadable}: the parquet reader failed"), || {
        check_structure(bytes).map_err(|why| Error::data(format!("{unreadable}: {why}; download it again")))?;
        read_split(bytes, what)
    })
}

/// Most values one column chunk may hold (Fashion-MNIST files have 60,000 rows; this leaves
/// room for any image dataset the loader might be pointed at, and bounds what polars allocates).
pub const MAX_VALUES: usize = 1 << 28;

/// Most rows a file may hold in all its row groups together (Fashion-MNIST's training file has
/// 60,000): their decoded 28x28 images take 784 bytes each, so a small run-length-encoded file
/// claiming billions of rows would ask for terabytes. Checked before polars reads the file.
pub const MAX_ROWS: u64 = 1 << 22;

/// The structure of a parquet file as the `parquet` crate reads it: at most [`MAX_ROWS`] rows
/// in all, the footer parses, every
/// column chunk lies inside the file and holds at most [`MAX_VALUES`] values, and its data
/// pages' value counts (read from their headers) add up to the chunk's. `Err` says where.
pub fn check_structure(file: &[u8]) -> std::result::Result<(), String> {
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(file)).map_err(|e| e.to_string())?;
    let meta = reader.metadata();
    let rows = (0..meta.num_row_groups()).try_fold(0u64, |sum, g| {
        let n = u64::try_from(meta.row_group(g).num_rows()).map_err(|_| format!("row group {g} claims a negative number of rows"))?;
        Ok::<u64, String>(sum.saturating_add(n))
    })?;
    if rows > MAX_ROWS {
        return Err(format!("its row groups claim {rows} rows in all, more than the {MAX_ROWS} the lab reads ({} GiB of images)", rows.saturating_mul(PIXELS as u64) >> 30));
    }
    for g in 0..meta.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| format!("row group {g}: {e}"))?;
        for (c, chunk) in group.metadata().columns().iter().enumerate() {
            let at = |why: String| format!("row group {g}, column {c}: {why}");
            let (start, len) = chunk.byte_range();
            if start.checked_add(len).is_none_or(|end| end > file.len() as u64) {
                return Err(at(format!("its bytes {start}..{} lie outside the file of {} bytes", start.saturating_add(len), file.len())));
            }
            let expected = usize::try_from(chunk.num_values())
                .ok()
                .filter(|&n| n <= MAX_VALUES)
                .ok_or_else(|| at(format!("it claims {} values (at most {MAX_VALUES} are read)", chunk.num_values())))?;
            let mut pages = group.get_column_page_reader(c).map_err(|e| at(e.to_string()))?;
            let mut values = 0usize;
            while let Some(page) = pages.peek_next_page().map_err(|e| at(e.to_string()))? {
                if !page.is_dict {
                    let n = page.num_levels.or(page.num_rows).unwrap_or(0);
                    values = values.saturating_add(n);
                    if n > expected || values > expected {
                        return Err(at(format!("a data page claims {} values, more than the chunk's {expected}", n as i64)));
                    }
                }
                pages.skip_next_page().map_err(|e| at(e.to_string()))?;
            }
            if values != expected {
                return Err(at(format!("its pages hold {values} values, the chunk claims {expected}")));
            }
        }
    }
    Ok(())
}

fn read_split(bytes: &[u8], what: &str) -> Result<Split> {
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| Error::data(format!("{what} is not a readable parquet file: {e}")))?;
    let schema_err = |why: String| {
        Error::data(format!(
            "{what}: {why}; expected the hub's schema image: struct{{bytes: binary, path: string}}, label: int64"
        ))
    };
    let image = df.column("image").map_err(|_| schema_err("no column `image`".into()))?;
    let image = image.struct_().map_err(|_| schema_err(format!("column `image` is {}", image.dtype())))?;
    let bytes = image.field_by_name("bytes").map_err(|_| schema_err("`image` has no field `bytes`".into()))?;
    let bytes = bytes.binary().map_err(|_| schema_err(format!("`image.bytes` is {}", bytes.dtype())))?;
    let label = df.column("label").map_err(|_| schema_err("no column `label`".into()))?;
    let label = label
        .cast(&DataType::Int64)
        .map_err(|_| schema_err(format!("column `label` is {}", label.dtype())))?;
    let label = label.i64().map_err(|e| schema_err(e.to_string()))?;

    let n = df.height();
    let mut images = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (row, (b, l)) in bytes.iter().zip(label.iter()).enumerate() {
        let b = b.ok_or_else(|| Error::data(format!("{what}: row {row} has no image bytes")))?;
        let l = l.ok_or_else(|| Error::data(format!("{what}: row {row} has no label")))?;
        if !(0..=9).contains(&l) {
            return Err(Error::data(format!("{what}: row {row} has label {l}, outside 0-9")));
        }
        images.extend_from_slice(&decode_png(b, &format!("{what}: row {row}"))?);
        labels.push(l as u8);
    }
    Split::new(images, labels, what)
}

/// Decodes one 28x28 greyscale PNG. The size is read from the header first, so a PNG that
/// claims to be huge is refused before anything is allocated for it.
pub fn decode_png(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let bad = |e: image::ImageError| Error::data(format!("{what}: the image cannot be decoded as PNG ({e})"));
    let reader = || image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png);
    let (w, h) = reader().into_dimensions().map_err(bad)?;
    if (w as usize, h as usize) != (SIDE, SIDE) {
        return Err(Error::data(format!("{what}: the image is {w}x{h}, expected 28x28")));
    }
    Ok(reader().decode().map_err(bad)?.into_luma8().into_raw())
}

/// The rows of an image-classification parquet file of the hub, images still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTable {
    /// Each row's image file bytes (PNG, JPEG, WebP).
    pub images: Vec<Vec<u8>>,
    pub labels: Vec<usize>,
    /// The label column's class names, when the file records them (the `datasets` library's
    /// `ClassLabel` feature in the `huggingface` metadata).
    pub class_names: Option<Vec<String>>,
}

/// The image and label columns the `datasets` library records in a file's `huggingface`
/// metadata (`{"info": {"features": {"image": {"_type": "Image"}, "label": {"_type":
/// "ClassLabel", "names": [...]}}}}`), as `(image column, (label column, class names))`.
#[allow(clippy::type_complexity)]
fn hf_features(file: &[u8]) -> (Option<String>, Option<(String, Vec<String>)>) {
    let Ok(reader) = SerializedFileReader::new(bytes::Bytes::copy_from_slice(file)) else { return (None, None) };
    let json = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "huggingface").and_then(|k| k.value.clone()));
    let Some(v) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok()) else { return (None, None) };
    let Some(features) = v.get("info").and_then(|i| i.get("features")).and_then(|f| f.as_object()) else { return (None, None) };
    let of_type = |t: &str| features.iter().find(|(_, f)| f.get("_type").and_then(|x| x.as_str()) == Some(t));
    let image = of_type("Image").map(|(k, _)| k.clone());
    let label = of_type("ClassLabel").and_then(|(k, f)| {
        let names = f.get("names")?.as_array()?.iter().map(|n| n.as_str().map(String::from)).collect::<Option<Vec<_>>>()?;
        Some((k.clone(), names))
    });
    (image, label)
}

/// Reads an image-classification parquet file of the hub (`what` names it in errors): the
/// structure checked first (as [`load_parquet`]), then the image column (a struct with
/// `bytes`, or binary) and the label column (integers from 0), found by the file's
/// `huggingface` metadata or by the names `image`/`img` and `label`/`labels`.
pub(crate) fn read_image_table(bytes: &[u8], what: &str) -> Result<ImageTable> {
    let unreadable = format!("{what} is not a readable parquet file");
    crate::error::catch_panic(&format!("{unreadable}: the parquet reader failed"), || {
        check_structure(bytes).map_err(|why| Error::data(format!("{unreadable}: {why}; download it again")))?;
        let (image_col, label) = hf_features(bytes);
        let df = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .map_err(|e| Error::data(format!("{unreadable}: {e}")))?;
        let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
        let find = |meta: Option<String>, guesses: &[&str], kind: &str| {
            meta.or_else(|| guesses.iter().find(|g| names.iter().any(|n| n == *g)).map(|g| g.to_string())).ok_or_else(|| {
                Error::data(format!(
                    "{what}: no {kind} column (its columns: {}); expected one named {} or marked as such in its `huggingface` metadata",
                    names.join(", "),
                    guesses.join(" or ")
                ))
            })
        };
        let image_col = find(image_col, &["image", "img"], "image")?;
        let (label_col, class_names) = match label {
            Some((c, n)) => (c, Some(n)),
            None => (find(None, &["label", "labels"], "label")?, None),
        };
        let col = df.column(&image_col).map_err(|e| Error::data(format!("{what}: {e}")))?;
        let binary = match col.dtype() {
            DataType::Struct(_) => col
                .struct_()
                .and_then(|s| s.field_by_name("bytes"))
                .map_err(|_| Error::data(format!("{what}: the image column `{image_col}` has no field `bytes`")))?,
            DataType::Binary => col.as_materialized_series().clone(),
            other => return Err(Error::data(format!("{what}: the image column `{image_col}` is {other}, expected image bytes"))),
        };
        let binary = binary.binary().map_err(|_| Error::data(format!("{what}: `{image_col}.bytes` is not binary")))?;
        let label = df.column(&label_col).map_err(|e| Error::data(format!("{what}: {e}")))?;
        let label = label
            .cast(&DataType::Int64)
            .map_err(|_| Error::data(format!("{what}: the label column `{label_col}` is {}, expected integers", label.dtype())))?;
        let label = label.i64().map_err(|e| Error::data(format!("{what}: {e}")))?;
        let (mut images, mut labels) = (Vec::with_capacity(df.height()), Vec::with_capacity(df.height()));
        for (row, (b, l)) in binary.iter().zip(label.iter()).enumerate() {
            let b = b.ok_or_else(|| Error::data(format!("{what}: row {row} has no image bytes")))?;
            let l = l.ok_or_else(|| Error::data(format!("{what}: row {row} has no label")))?;
            let l = usize::try_from(l).map_err(|_| Error::data(format!("{what}: row {row} has label {l}, below 0")))?;
            if let Some(n) = class_names.as_ref().map(Vec::len).filter(|&n| l >= n) {
                return Err(Error::data(format!("{what}: row {row} has label {l}, but the file names {n} classes")));
            }
            images.push(b.to_vec());
            labels.push(l);
        }
        Ok(ImageTable { images, labels, class_names })
    })
}
