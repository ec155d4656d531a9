//! How this copy of the crate was built: from which commit, at which optimisation level, with or
//! without debug assertions. Run labels name the commit; notebooks say when their kernel (evcxr,
//! whose own profile turns debug assertions and overflow checks on) built the crate slower than
//! the terminal's release build, and how to fix it.

/// The commit the crate was built from (12 hex digits), with `+changes` when its tracked files
/// differed from that commit, or `unknown` outside a git checkout.
pub const COMMIT: &str = env!("ALEXNET_LAB_COMMIT");

/// The environment variables, in the Rust kernel's `kernel.json` (`notebooks/setup.sh` writes
/// them), that make evcxr build the crate as the terminal's release build does. Cargo takes them
/// over the `[profile.dev]` evcxr writes for the crate it compiles.
pub const KERNEL_ENV: [(&str, &str); 3] = [
    ("CARGO_PROFILE_DEV_OPT_LEVEL", "3"),
    ("CARGO_PROFILE_DEV_DEBUG_ASSERTIONS", "false"),
    ("CARGO_PROFILE_DEV_OVERFLOW_CHECKS", "false"),
];

/// What [`info`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BuildInfo {
    pub commit: &'static str,
    /// Cargo's `opt-level` for this crate (`0`-`3`, `s`, `z`).
    pub opt_level: &'static str,
    /// Debug assertions (and, with cargo's profiles, normally overflow checks) compiled in.
    pub debug_assertions: bool,
}

/// How this copy of the crate was built.
pub fn info() -> BuildInfo {
    BuildInfo { commit: COMMIT, opt_level: env!("ALEXNET_LAB_OPT_LEVEL"), debug_assertions: cfg!(debug_assertions) }
}

impl BuildInfo {
    /// True when the crate was built as the terminal's release build is: opt-level 3, no debug
    /// assertions.
    pub(crate) fn is_release_like(&self) -> bool {
        self.opt_level == "3" && !self.debug_assertions
    }
}

impl std::fmt::Display for BuildInfo {
    /// `built from 1a2b3c4d5e6f at opt-level 3, debug assertions off (as the terminal's release build)`,
    /// or the same with what is slower and how to fix it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "crate built from commit {} at opt-level {}, debug assertions {}",
            self.commit,
            self.opt_level,
            if self.debug_assertions { "on" } else { "off" }
        )?;
        if self.is_release_like() {
            write!(f, " (as the terminal's release build)")
        } else {
            let env: Vec<String> = KERNEL_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(
                f,
                ". Slower than the terminal's release build (evcxr's own profile: about half its speed when training): \
                 run `bash notebooks/setup.sh` once (it adds {} to the Rust kernel's kernel.json), then restart the kernel",
                env.join(" ")
            )
        }
    }
}
