//! Progress bars for long jobs (training, evaluation), on stderr.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `len` steps titled `prefix` (hidden when `show` is false, and by
/// indicatif when stderr is not a terminal), at most 80 columns wide.
pub fn bar(len: usize, show: bool, prefix: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    b.set_style(
        // At most 80 columns: "  1/10 [====>     ] 235/469 00:01:02<00:01:01 loss 0.512 acc 0.812 113 ex/s".
        ProgressStyle::with_template("{prefix:>6} [{bar:12}] {pos}/{len} {elapsed_precise}<{eta_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_prefix(prefix);
    b
}

/// A duration as people say it: `40 s`, `14 min`, `1 h 05 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=3599 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600 + 30) / 60),
    }
}
