//! What a notebook cell shows. evcxr calls `evcxr_display(&self)` on the value a cell ends
//! with, when its type has that method; the method prints one bundle of MIME outputs
//! (`EVCXR_BEGIN_CONTENT <mime>` ... `EVCXR_END_CONTENT`, the evcxr convention). The lab's
//! results (complexity table, shape walk, training history, confusion matrix, sweeps, plots)
//! all have it, so a cell reads like d2l's: `Complexity::of(&net)?` shows the table.
//!
//! evcxr keeps one output per MIME type per cell: a cell shows one picture (the last one it
//! emits). Also here: knobs from the environment and a panic hook for headless runs.

use base64::Engine;

/// An SVG picture; shows itself in a notebook, `.as_str()` / `.as_bytes()` for a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Svg(pub String);

/// A PNG picture; shows itself in a notebook, `.as_bytes()` for a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Png(pub Vec<u8>);

impl std::fmt::Debug for Svg {
    /// The size, not the markup: `Svg(12345 bytes)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Svg({} bytes)", self.0.len())
    }
}

impl std::fmt::Debug for Png {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Png({} bytes)", self.0.len())
    }
}

impl std::ops::Deref for Svg {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Svg {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The picture as PNG (1 pixel per SVG unit, the embedded font for text).
    pub fn to_png(&self) -> crate::Result<Png> {
        super::raster::svg_to_png(&self.0, 1.0).map(Png)
    }

    /// Shows the picture as the cell's output: PNG and SVG in one bundle, so it renders where
    /// SVG does not (JupyterLab shows no SVG of an untrusted notebook, and a fresh clone is
    /// untrusted) and stays sharp where SVG does.
    pub fn evcxr_display(&self) {
        let mut parts = vec![("image/svg+xml", self.0.clone())];
        match self.to_png() {
            Ok(png) => parts.push(("image/png", base64::engine::general_purpose::STANDARD.encode(&png.0))),
            Err(e) => eprintln!("{e}"),
        }
        bundle(&parts);
    }
}

impl Png {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Shows the picture as the cell's `image/png` output.
    pub fn evcxr_display(&self) {
        bundle(&[("image/png", base64::engine::general_purpose::STANDARD.encode(&self.0))]);
    }
}

/// Prints one display bundle: every `(mime type, content)` pair becomes one representation of
/// the cell's output (PNG and base64 content as evcxr expects; text as is).
pub fn bundle(parts: &[(&str, String)]) {
    for (mime, content) in parts {
        println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
    }
}

/// Text as the cell's output (a table keeps its columns: notebooks show `text/plain` in a
/// fixed-width font).
pub fn text(s: &str) {
    bundle(&[("text/plain", s.trim_end().to_string())]);
}

/// Shows an SVG as the cell's output (with its PNG, as [`Svg::evcxr_display`]).
pub fn show_svg(svg: &str) {
    Svg(svg.to_string()).evcxr_display();
}

/// Shows PNG bytes as the cell's `image/png` output.
pub fn show_png(png: &[u8]) {
    Png(png.to_vec()).evcxr_display();
}

/// A notebook knob: the value the cell states, parsed (`let n: usize = knob("ALEXNET_LAB_ASPECT_N",
/// "10000")?;`), unless the environment variable `name` is set to something else, which then
/// overrides it and says so in the cell's output (CI runs the notebooks small this way).
/// Committed outputs must come from the values the cells show: `notebooks/check_outputs.py
/// --committed` refuses a notebook whose outputs hold such an override line, and checks the runs
/// they name against the cells' values. The one place notebooks read the environment.
pub fn knob<T>(name: &str, value: &str) -> crate::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let chosen = match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() && v.trim() != value => {
            println!("{KNOB_OVERRIDE} {name}={} (the cell says \"{value}\")", v.trim());
            v.trim().to_string()
        }
        _ => value.to_string(),
    };
    chosen.parse().map_err(|e| crate::Error::config(format!("knob {name}: `{chosen}` does not parse: {e}")))
}

/// How [`knob`] starts the line that says the environment overrode a cell's value.
pub const KNOB_OVERRIDE: &str = "knob from the environment:";

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
