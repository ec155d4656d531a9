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
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        if let Err(e) = cuda_kernels() {
            println!("cargo:warning={e}");
            std::process::exit(1);
        }
    }
}

/// With the `cuda` feature: `src/kernels/cuda/lab.cu` to PTX (`$OUT_DIR/lab.ptx`) for the compute
/// capability `CUDA_COMPUTE_CAP` (default 90: H100/H200), checked by `ptxas` for that GPU (an
/// error fails the build; its register and spill report is printed as a warning).
fn cuda_kernels() -> Result<(), String> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?).join("lab.ptx");
    let src = "src/kernels/cuda/lab.cu";
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".to_string());
    let tool = |name: &str| match std::env::var_os("CUDA_HOME") {
        Some(home) if std::path::Path::new(&home).join("bin").join(name).exists() => std::path::Path::new(&home).join("bin").join(name),
        _ => std::path::PathBuf::from(name),
    };
    let run = |cmd: &mut Command, what: &str| -> Result<String, String> {
        let o = cmd.output().map_err(|e| format!("{what}: cannot run it ({e}); the `cuda` feature needs the CUDA toolkit (set CUDA_HOME, or use ../shared/tools/cuda/build-gpu-binary.sh)"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        if o.status.success() { Ok(text) } else { Err(format!("{what} failed:\n{text}")) }
    };
    run(
        Command::new(tool("nvcc")).args(["-ptx", "-O3", "-std=c++17", &format!("--gpu-architecture=compute_{cap}"), "-o"]).arg(&out).arg(src),
        "nvcc (lab.cu to PTX)",
    )?;
    let report = run(
        Command::new(tool("ptxas")).args([&format!("-arch=sm_{cap}"), "-v", "-o", "/dev/null"]).arg(&out),
        "ptxas (checking lab.ptx)",
    )?;
    for line in report.lines().filter(|l| l.contains("registers") || l.contains("spill")) {
        println!("cargo:warning=ptxas sm_{cap}: {}", line.trim());
    }
    Ok(())
}
