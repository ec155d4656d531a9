//! The hub source: `zalando-datasets/fashion_mnist` parquet files via `hf-hub`, read with polars.
//!
//! hf-hub is pinned to 0.5 with its sync `ureq` client on purpose: 1.0 dropped `ureq` for a
//! tokio + reqwest stack that is several times heavier to build, and the lab only ever fetches
//! two files. In 0.5 `Api::new()` ignores `HF_HOME`; `ApiBuilder::from_env()` (used here)
//! honours it, so the cache is `$HF_HOME/hub` as for every other hub client.

use std::path::{Path, PathBuf};

use hf_hub::{api::sync::ApiBuilder, Cache, Repo, RepoType};
use polars::prelude::*;

use super::{Split, PIXELS, SIDE};
use crate::{Error, Result};

pub const HUB_REPO: &str = "zalando-datasets/fashion_mnist";
pub const HUB_REVISION: &str = "main";
/// `[train, test]` paths inside the dataset repo.
pub const HUB_FILES: [&str; 2] =
    ["fashion_mnist/train-00000-of-00001.parquet", "fashion_mnist/test-00000-of-00001.parquet"];

fn repo() -> Repo {
    Repo::with_revision(HUB_REPO.into(), RepoType::Dataset, HUB_REVISION.into())
}

/// The hub cache directory in use (`$HF_HOME/hub`, default `~/.cache/huggingface/hub`).
pub fn hub_cache_dir() -> PathBuf {
    Cache::from_env().path().clone()
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Local paths of `[train, test]`: from the cache when there, else downloaded (with progress).
pub(super) fn fetch() -> Result<[PathBuf; 2]> {
    let cache = Cache::from_env().repo(repo());
    let missing = |what: &str| {
        format!(
            "Fashion-MNIST is not in the hub cache {} and {what}. Either let the lab download it \
             once (network, unset HF_HUB_OFFLINE), point HF_HOME at a cache that holds \
             {HUB_REPO} (e.g. HF_HOME=../shared/data/hf), or use the IDX files with \
             --data-dir DIR (train-images-idx3-ubyte.gz etc.)",
            hub_cache_dir().display()
        )
    };
    let mut out = Vec::with_capacity(2);
    for f in HUB_FILES {
        if let Some(p) = cache.get(f) {
            out.push(p);
            continue;
        }
        if offline() {
            return Err(Error::data(missing("HF_HUB_OFFLINE is set")));
        }
        eprintln!("downloading {HUB_REPO}/{f} (once; cached in {})", hub_cache_dir().display());
        let api = ApiBuilder::from_env()
            .with_progress(true)
            .build()
            .map_err(|e| Error::data(format!("cannot set up the hub client: {e}")))?;
        let p = api
            .repo(repo())
            .get(f)
            .map_err(|e| Error::data(format!("{} (download of {f}: {e})", missing("the download failed"))))?;
        out.push(p);
    }
    Ok([out[0].clone(), out[1].clone()])
}

/// Reads one hub parquet file (`image` = struct{bytes: PNG, path}, `label` = int64) and decodes
/// its PNGs. Every problem names the file, the row and what was expected.
pub fn load_parquet(path: &Path) -> Result<Split> {
    let what = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot open {what}"), e))?;
    parquet_bytes_to_split(&bytes, &what)
}

/// [`load_parquet`] from bytes in memory (`what` names them in errors).
pub fn parquet_bytes_to_split(bytes: &[u8], what: &str) -> Result<Split> {
    super::footer::check(bytes)
        .map_err(|why| Error::data(format!("{what} is not a readable parquet file: {why}; download it again")))?;
    // polars-parquet 0.55 panics on some corrupt files (e.g. a bad thrift footer): an error instead.
    crate::error::catch_panic(&format!("{what} is not a readable parquet file: the parquet reader failed"), || {
        read_split(bytes, what)
    })
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
