//! The IDX reader: any bytes, as a gzipped image file, a gzipped label file, and a raw
//! (already decompressed) IDX buffer of 1 or 3 dimensions. Errors are fine; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = alexnet_lab::data::decode_images(data, "fuzz");
    let _ = alexnet_lab::data::decode_labels(data, "fuzz");
    let _ = alexnet_lab::data::parse_idx(data, 3, "fuzz");
    let _ = alexnet_lab::data::parse_idx(data, 1, "fuzz");
});
