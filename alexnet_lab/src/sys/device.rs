//! `--device auto|cpu|cuda:N`.

use candle_core::Device;

use crate::{Error, Result};

/// Parses a device name. `auto` picks CUDA device 0 when the crate was built with the `cuda`
/// feature and a GPU answers, else the CPU.
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    match name.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu)),
        "cuda" | "gpu" => cuda(0),
        s if s.starts_with("cuda:") => {
            let n = s[5..].parse::<usize>().map_err(|_| {
                Error::config(format!("unknown device '{name}': use auto, cpu or cuda:N with N a GPU index"))
            })?;
            cuda(n)
        }
        _ => Err(Error::config(format!("unknown device '{name}': use auto, cpu or cuda:N (e.g. cuda:0)"))),
    }
}

fn cuda(n: usize) -> Result<Device> {
    if !candle_core::utils::cuda_is_available() {
        return Err(Error::config(format!(
            "cuda:{n} asked for, but this alexnet-lab was built without the `cuda` feature; rebuild with \
             `cargo build --release --features cuda` (see README, GPU) or use the CPU"
        )));
    }
    Device::new_cuda(n).map_err(|e| {
        Error::config(format!("cuda:{n} is not usable ({e}); check nvidia-smi, pick another index or use the CPU"))
    })
}

/// The device as d2l prints it: `cpu`, `cuda:0`.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}
