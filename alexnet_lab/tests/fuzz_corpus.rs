//! The fuzz targets' corpus as a regression test (plain `cargo test`, no fuzzer): every file
//! under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same
//! functions as in `fuzz/fuzz_targets/`, which must return (Ok or a clear error), never panic.
//! The seeds themselves are real data and must decode to exactly what the full files hold.

mod common;

use std::path::PathBuf;

use alexnet_lab::candle::Device;
use alexnet_lab::{checkpoint, data};
use common::*;

fn files(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = workspace().join("fuzz");
    let mut out = vec![];
    for sub in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(sub).join(target)) else { continue };
        for e in dir {
            let p = e.unwrap().path();
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no corpus for {target}");
    out
}

#[test]
fn idx_corpus() {
    let real = hub_data();
    for (p, bytes) in files("idx") {
        let images = data::decode_images(&bytes, "corpus");
        let labels = data::decode_labels(&bytes, "corpus");
        let _ = (data::parse_idx(&bytes, 3, "corpus"), data::parse_idx(&bytes, 1, "corpus"));
        match p.file_name().unwrap().to_str().unwrap() {
            "images-2.gz" => assert_eq!(images.unwrap(), real.test.images[..2 * 784]),
            "labels-2.gz" => assert_eq!(labels.unwrap(), real.test.labels[..2]),
            _ => {}
        }
    }
}

#[test]
fn parquet_and_png_corpus() {
    let real = hub_data();
    for (p, bytes) in files("parquet") {
        let split = data::parquet_bytes_to_split(&bytes, "corpus");
        if p.to_string_lossy().contains("regressions") {
            // Found by the fuzzer: polars-parquet panics on this footer; the lab returns an error.
            let e = split.as_ref().unwrap_err().to_string();
            assert!(e.contains("is not a readable parquet file"), "{e}");
        }
        if p.ends_with("test-3-rows.parquet") {
            let s = split.unwrap();
            assert_eq!((s.images.as_slice(), s.labels.as_slice()), (&real.test.images[..3 * 784], &real.test.labels[..3]));
        }
    }
    for (p, bytes) in files("png") {
        let px = data::decode_png(&bytes, "corpus");
        if let Some(i) = p.file_name().unwrap().to_str().unwrap().strip_prefix("test-").and_then(|s| s.strip_suffix(".png")) {
            assert_eq!(px.unwrap(), real.test.image(i.parse().unwrap()));
        }
    }
}

#[test]
fn checkpoint_corpus() {
    for (p, bytes) in files("checkpoint") {
        let cut = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let r = checkpoint::load_model_from_bytes(&bytes[..cut], bytes.get(cut + 1..).unwrap_or(&[]), &Device::Cpu);
        if p.file_name().unwrap().to_str().unwrap().starts_with("seed-") {
            let (net, _, meta) = r.unwrap();
            assert_eq!(net.input_dims(), meta.input);
        }
    }
}
