//! Helpers for the evcxr notebooks: rich outputs (SVG, PNG, tables), environment knobs, and a
//! panic hook that makes `jupyter nbconvert --execute` fail instead of silently continuing.

use base64::Engine;

/// Shows an SVG as the cell's `image/svg+xml` output.
pub fn show_svg(svg: &str) {
    println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT");
}

/// Shows PNG bytes as the cell's `image/png` output.
pub fn show_png(png: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    println!("EVCXR_BEGIN_CONTENT image/png\n{b64}\nEVCXR_END_CONTENT");
}

/// An environment knob with a default (like d2l-java's `MAX_EPOCH`): `env_or("EPOCHS", 1)`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Makes a panic abort the kernel process. A panicking cell does not fail
/// `nbconvert --execute` (it prints and goes on); an aborted kernel does. Call it in the first cell.
pub fn fail_fast_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        if crate::error::panics_are_guarded() {
            return; // caught by `error::catch_panic` and reported as an error
        }
        eprintln!("{info}");
        std::process::abort();
    }));
}
