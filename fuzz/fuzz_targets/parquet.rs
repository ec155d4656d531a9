//! The hub path: any bytes as a Fashion-MNIST parquet file (schema check, labels, PNG decode).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = alexnet_lab::data::parquet_bytes_to_split(data, "fuzz");
});
