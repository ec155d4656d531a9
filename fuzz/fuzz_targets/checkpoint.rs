//! Checkpoint loading: the input is `checkpoint.json` and the weights file, split at the first
//! NUL byte (JSON holds none), loaded into a model on the CPU.
#![no_main]
use alexnet_lab::candle::Device;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (json, weights) = (&data[..cut], data.get(cut + 1..).unwrap_or(&[]));
    let _ = alexnet_lab::train::checkpoint::load_model_from_bytes(json, weights, &Device::Cpu);
});
