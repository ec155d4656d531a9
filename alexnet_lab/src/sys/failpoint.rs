//! Failpoints for the crash and Ctrl-C tests (`tests/kill_resume.rs`, `tests/first_minute.rs`):
//! a run stops or waits at a named point, so that a test acts on a phase of the run instead of
//! guessing it from a clock. Set once per process by the `alexnet-lab` binary from
//! [`FAILPOINT_ENV`]; unset (the library reads no environment for it), every check is one
//! `OnceLock` read and nothing happens.
//!
//! The spec is a comma-separated list of
//! - `write_atomic:<file name>`: writing that file stops after half of its bytes and the process
//!   aborts (as a power cut or `kill -9` would leave it);
//! - `hold-write:<file name>`: writing that file (a tensor file or a `write_atomic` file) stops
//!   before its commit, with the temporary file on disk, and waits there to be killed;
//! - `hold:<point>`: a training run waits at that point until a stop is asked for (Ctrl-C), then
//!   goes on and sees the request at its next check;
//! - `hold-past-stop:<point>`: the same, but a stop request does not end the wait (a second
//!   Ctrl-C, which ends the process, is what the test sends next).
//!
//! Points are named by the training loop: `start-epoch-E` (data loaded and the model built, before
//! epoch E's first step), `after-step-E-S` (step S of epoch E done) and `evaluate-epoch-E` (the
//! steps of epoch E done, before its test pass); E and S count from 1.
//!
//! Each hold prints one line on stdout, which a test reads before it acts:
//! `failpoint: holding at <point>` (and `failpoint: stop requested, still holding at <point>`).
//! These are the only lines the library prints itself: they exist only under the test's spec.
//! A hold gives up after `HOLD_LIMIT` (a test that forgot to act fails instead of hanging).
//!
//! Compiled only with the cargo feature `failpoints`, which the crate's own tests turn on (its
//! dev-dependency on itself); without it (a user's `cargo build`, a notebook's `:dep`) every
//! function here is an empty inline body, so nothing that can hold or `abort()` is in the write
//! path, and [`set`] refuses a spec.

/// The environment variable the `alexnet-lab` binary reads for [`set`].
pub const FAILPOINT_ENV: &str = "ALEXNET_LAB_FAILPOINT";

#[cfg(not(feature = "failpoints"))]
pub use off::*;
#[cfg(feature = "failpoints")]
pub use on::*;

#[cfg(feature = "failpoints")]
mod on {
    use std::io::Write;
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// The longest a hold waits.
    pub const HOLD_LIMIT: Duration = Duration::from_secs(600);

    static SPEC: std::sync::OnceLock<String> = std::sync::OnceLock::new();

    /// Sets the failpoints of this process (the first call wins).
    pub fn set(spec: &str) -> crate::Result<()> {
        let _ = SPEC.set(spec.to_string());
        Ok(())
    }

    /// The argument of the spec entry `kind:<arg>`, for each entry of that kind.
    fn entries(kind: &str) -> impl Iterator<Item = &'static str> + '_ {
        SPEC.get()
            .map(|s| s.split(','))
            .into_iter()
            .flatten()
            .filter_map(move |e| e.trim().strip_prefix(kind).and_then(|r| r.strip_prefix(':')))
    }

    fn announce(line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "failpoint: {line}");
        let _ = out.flush();
    }

    /// Waits while `keep_waiting` says so, up to [`HOLD_LIMIT`].
    fn wait(mut keep_waiting: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while keep_waiting() && t0.elapsed() < HOLD_LIMIT {
            std::thread::sleep(Duration::from_millis(2));
        }
        if t0.elapsed() >= HOLD_LIMIT {
            announce("gave up holding");
        }
    }

    /// A training run at `point` (see the module docs); `stop_requested` peeks at its stop token.
    /// `point` is only formatted when a hold is set.
    pub fn at(point: impl FnOnce() -> String, stop_requested: impl Fn() -> bool) {
        if SPEC.get().is_none() {
            return;
        }
        let point = point();
        if entries("hold").any(|p| p == point) {
            announce(&format!("holding at {point}"));
            wait(|| !stop_requested());
        } else if entries("hold-past-stop").any(|p| p == point) {
            announce(&format!("holding at {point}"));
            wait(|| !stop_requested());
            announce(&format!("stop requested, still holding at {point}"));
            wait(|| true);
        }
    }

    /// Writing `path` under `write_atomic:<its name>`: half of `bytes` into `f` (the temporary
    /// file), then abort.
    pub(crate) fn abort_in_write(path: &Path, f: &mut std::fs::File, bytes: &[u8]) {
        if SPEC.get().is_some() && entries("write_atomic").any(|n| Some(n) == path.file_name().and_then(|n| n.to_str())) {
            let _ = f.write_all(bytes.get(..bytes.len() / 2).unwrap_or_default());
            let _ = f.sync_all();
            std::process::abort();
        }
    }

    /// Writing `path` under `hold-write:<its name>`: its temporary file is written and synced, not
    /// yet renamed into place; holds until the process is killed.
    pub(crate) fn hold_in_write(path: &Path) {
        if SPEC.get().is_some() && entries("hold-write").any(|n| Some(n) == path.file_name().and_then(|n| n.to_str())) {
            announce(&format!("holding in the write of {}", path.file_name().unwrap_or_default().to_string_lossy()));
            wait(|| true);
        }
    }
}

/// Without the `failpoints` feature: nothing holds, nothing aborts.
#[cfg(not(feature = "failpoints"))]
mod off {
    use std::path::Path;

    /// Refuses: this build has no failpoints.
    pub fn set(_spec: &str) -> crate::Result<()> {
        Err(crate::Error::config(format!(
            "{} is set, but this build has no failpoints: build with `--features failpoints` (the crate's tests do)",
            super::FAILPOINT_ENV
        )))
    }

    /// A no-op.
    #[inline(always)]
    pub fn at(_point: impl FnOnce() -> String, _stop_requested: impl Fn() -> bool) {}

    /// A no-op.
    #[inline(always)]
    pub(crate) fn abort_in_write(_path: &Path, _f: &mut std::fs::File, _bytes: &[u8]) {}

    /// A no-op.
    #[inline(always)]
    pub(crate) fn hold_in_write(_path: &Path) {}
}
