//! Readings of this process and machine from Linux `/proc` (memory, CPU time). Elsewhere they
//! read as unknown (`None`, 0).

/// A `Key:   123 kB` field of a Linux `/proc` file, in bytes.
fn kb_field(file: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(file).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Memory the kernel says can be taken without swapping (`MemAvailable`).
pub fn available_bytes() -> Option<u64> {
    kb_field("/proc/meminfo", "MemAvailable:")
}

/// Resident memory of this process now (`VmRSS`).
pub(crate) fn current_rss_bytes() -> Option<u64> {
    kb_field("/proc/self/status", "VmRSS:")
}

/// Peak resident memory of this process (`VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    kb_field("/proc/self/status", "VmHWM:")
}

/// Resets this process's peak-RSS mark (`VmHWM`) to the current RSS, so the next reading is the
/// peak of what runs after this call (`echo 5 > /proc/self/clear_refs`).
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (get(11) + get(12)) / tick
}

/// Bytes per GiB (2^30): memory sizes are read (`2G` = 2 GiB) and shown in one unit.
pub(crate) const GIB: f64 = (1u64 << 30) as f64;

/// Bytes as GiB (2^30 bytes) with two decimals: `1.52 GiB`, the unit memory budgets are read in.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB)
}
