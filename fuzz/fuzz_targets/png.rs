//! One image of the hub's parquet files: any bytes as a 28x28 greyscale PNG.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(px) = alexnet_lab::data::decode_png(data, "fuzz") {
        assert_eq!(px.len(), 28 * 28);
    }
});
