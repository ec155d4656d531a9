//! Keep freed memory for reuse instead of handing it back to the kernel (glibc's `mallopt`).
//!
//! Every candle op allocates a fresh output buffer, and a training step frees and allocates the
//! same few hundred buffers again and again. glibc serves every allocation over 32 MB
//! (conv1's output at batch 64 is 72 MB) with its own `mmap` and `munmap`s it on free, so each
//! step the kernel maps, zeroes and page-faults ~1 GB in again: ~12% of a step at 224x224
//! (`perf`, docs/performance.md), more at 96x96, where the 64 MB gradient of the 4096x4096
//! layer is the biggest buffer. With `M_MMAP_MAX = 0` every allocation comes from the heap,
//! whose freed chunks the next step reuses, and `M_TRIM_THRESHOLD` keeps up to 2 GB of free
//! heap instead of returning it. The cost: the process keeps its high-water mark (the
//! notebooks' kernel too, until it restarts).
//!
//! Chosen by the program, once per process: the `alexnet-lab` binary applies it before
//! training, benchmarking and the memory sweep (and reads `ALEXNET_LAB_MALLOC=system` to leave
//! glibc's defaults, what stock candle gets); the memory sweep calls [`release_free_memory`]
//! before each measurement. The library (`Trainer::run`, `train_ch6`, `Bench::run`, the sweep)
//! leaves the allocator as it finds it: a notebook that wants the speed calls
//! [`keep_freed_memory`] itself. Elsewhere than Linux with glibc it does nothing.

/// The environment variable the binary reads to leave glibc's defaults (`system`).
pub const ENV: &str = "ALEXNET_LAB_MALLOC";

static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Sets glibc's allocator to keep freed memory (once per process); returns whether it is on.
pub fn keep_freed_memory() -> bool {
    *ON.get_or_init(apply)
}

/// Keeps glibc's defaults for the rest of the process (later [`keep_freed_memory`] calls do
/// nothing); false when the allocator was already tuned.
pub fn leave_default() -> bool {
    ON.set(false).is_ok() || ON.get() == Some(&false)
}

/// Hands the free heap back to the kernel now (glibc's `malloc_trim`), so that the resident
/// size counts only memory in use: the memory sweep calls it before each measurement.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the heap to the kernel; thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes glibc's allocation parameters; it is thread-safe (it takes
    // the arena lock) and any value is valid for these two parameters.
    unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}
