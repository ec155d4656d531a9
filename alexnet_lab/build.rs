//! Records which source the crate was built from and how, for run labels and for notebooks to
//! tell a learner when their kernel compiled it slower than the terminal does
//! (`alexnet_lab::sys::build`).
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    // The commit, and `+changes` when the crate's tracked files differ from it (untracked files
    // and the rest of the repository do not change what the crate computes).
    let commit = match (git(&["rev-parse", "--short=12", "HEAD"]), git(&["status", "--porcelain", "--untracked-files=no", "--", "."])) {
        (Some(c), Some(changes)) if !changes.is_empty() => format!("{c}+changes"),
        (Some(c), _) if !c.is_empty() => c,
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=ALEXNET_LAB_COMMIT={commit}");
    println!("cargo:rustc-env=ALEXNET_LAB_OPT_LEVEL={}", std::env::var("OPT_LEVEL").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src");
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        // Every move of HEAD (commit, checkout, reset) appends to logs/HEAD; `index` changes when
        // files are staged.
        for f in ["HEAD", "logs/HEAD", "index"] {
            println!("cargo:rerun-if-changed={git_dir}/{f}");
        }
    }
}
