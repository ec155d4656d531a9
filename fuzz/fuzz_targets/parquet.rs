//! The hub path: any bytes as a Fashion-MNIST parquet file (schema check, labels, PNG decode).
//! polars panics on some corrupt files; the lab catches those (`error::catch_panic`), so the
//! panic hook stays quiet for caught panics and a panic that escapes still aborts (a crash).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alexnet_lab::error::quiet_hook_for_caught_panics();
    let _ = alexnet_lab::data::parquet_bytes_to_split(data, "fuzz");
});
