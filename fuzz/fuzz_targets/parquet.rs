//! The hub path: any bytes as a Fashion-MNIST parquet file (schema check, labels, PNG decode).
//! polars panics on some corrupt files; the lab catches those (`error::catch_panic`), so the
//! panic hook stays quiet for caught panics and a panic that escapes still aborts (a crash).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !alexnet_lab::error::panics_are_guarded() {
                fuzzer_hook(info);
            }
        }));
    });
    let _ = alexnet_lab::data::parquet_bytes_to_split(data, "fuzz");
});
