//! The fuzz targets' corpus as a regression test (plain `cargo test`, no fuzzer): every file
//! under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same
//! functions as in `fuzz/fuzz_targets/`, which must return (Ok or a clear error), never panic.
//! The seeds themselves are real data and must decode to exactly what the full files hold.

mod common;

use std::path::PathBuf;

use alexnet_lab::candle::Device;
use alexnet_lab::data;
use alexnet_lab::train::checkpoint;
use common::*;

fn files(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = workspace().join("fuzz");
    let mut out = vec![];
    // Every target has a seed corpus; parquet also has the inputs of the crashes fixed so far.
    for sub in ["corpus", "regressions"] {
        let d = fuzz.join(sub).join(target);
        let must = sub == "corpus" || target == "parquet";
        let dir = match std::fs::read_dir(&d) {
            Ok(dir) => dir,
            Err(e) if must => panic!("{} is missing ({e}): the fuzz inputs this test replays", d.display()),
            Err(_) => continue,
        };
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
            "images-2.gz" => assert_eq!(images.unwrap(), real.test.images()[..2 * 784]),
            "labels-2.gz" => assert_eq!(labels.unwrap(), real.test.labels()[..2]),
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
            // Found by the fuzzer: polars-parquet panics or aborts on these; the lab returns an error.
            let e = split.as_ref().unwrap_err().to_string();
            assert!(e.contains("is not a readable parquet file"), "{e}");
            if p.ends_with("crash-125e570248a314ff059cead603ad6bc33fa34753") {
                // A data page header claiming -4 values (polars: a 2^61-byte validity bitmap).
                assert!(e.contains("row group 0, column 2: a data page claims -4 values"), "{e}");
            }
        }
        if p.ends_with("test-3-rows.parquet") {
            let s = split.unwrap();
            assert_eq!((s.images(), s.labels()), (&real.test.images()[..3 * 784], &real.test.labels()[..3]));
        }
    }
    for (p, bytes) in files("png") {
        let px = data::decode_png(&bytes, "corpus");
        if let Some(i) = p.file_name().unwrap().to_str().unwrap().strip_prefix("test-").and_then(|s| s.strip_suffix(".png")) {
            assert_eq!(px.unwrap(), real.test.image(i.parse().unwrap()).unwrap());
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
            assert_eq!(net.input_dims(), meta.input());
        }
    }
}

/// The structure check (`data/parquet.rs`, page headers read by the `parquet` crate) on the real
/// 3-row seed with one byte changed:
/// its label column's data page header starts at byte 2491 (`15 00 15 14 15 14 2c 15 06`:
/// type 0, 10 bytes unpacked, 10 bytes stored, data page header with 3 values).
#[test]
fn parquet_page_header_checks() {
    let seed = std::fs::read(workspace().join("fuzz/corpus/parquet/test-3-rows.parquet")).unwrap();
    assert_eq!(seed[2491..2500], [0x15, 0x00, 0x15, 0x14, 0x15, 0x14, 0x2c, 0x15, 0x06]);
    let with = |at: usize, byte: u8| {
        let mut b = seed.clone();
        b[at] = byte;
        data::parquet_bytes_to_split(&b, "test.parquet").unwrap_err().to_string()
    };
    let cases = [
        (2499, 0x07, "row group 0, column 2: a data page claims -4 values, more than the chunk's 3"),
        (2499, 0x04, "row group 0, column 2: its pages hold 2 values, the chunk claims 3"),
        (2499, 0x08, "row group 0, column 2: a data page claims 4 values, more than the chunk's 3"),
        // A page of 63 bytes in a chunk with fewer left; a page unpacking to -10 bytes.
        (2496, 0x7e, "row group 0, column 2: EOF: Invalid page header"),
        (2494, 0x13, "row group 0, column 2: EOF: Invalid page header"),
    ];
    for (at, byte, expected) in cases {
        let e = with(at, byte);
        assert!(e.starts_with("data error: test.parquet is not a readable parquet file: "), "{e}");
        assert!(e.contains(expected), "byte {at} = {byte:#x}: {e}");
        assert!(e.ends_with("download it again"), "{e}");
    }
}
