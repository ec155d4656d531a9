//! The process and the machine: which device, the allocator, `/proc` readings, crash-safe
//! files, seeds. Knows nothing of networks or data; every other layer may use it.

pub mod build;
pub mod device;
pub mod failpoint;
pub mod fs;
pub mod malloc;
pub mod proc;
pub mod rng;

pub use device::{device_name, parse_device};
pub use fs::{file_sha256, read_regular, write_atomic};
