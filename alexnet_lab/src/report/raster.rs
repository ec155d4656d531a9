//! SVG to PNG with resvg, text set in a font compiled into the crate (Ubuntu Light, from egui's
//! `epaint_default_fonts`), so a plot renders the same on a machine without fonts. Every plot a
//! notebook shows carries this PNG beside its SVG: JupyterLab does not render the SVG of a
//! notebook it does not trust (every fresh clone), but it renders the PNG.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

use crate::{Error, Result};

/// The font database, built once: the embedded face answering for every generic family the
/// plots name (`sans-serif`, `serif`, `monospace`), and that face's family name.
fn fonts() -> &'static (Arc<usvg::fontdb::Database>, String) {
    static DB: OnceLock<(Arc<usvg::fontdb::Database>, String)> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
        let family = db.faces().next().and_then(|f| f.families.first().map(|(name, _)| name.clone())).unwrap_or_default();
        if !family.is_empty() {
            db.set_sans_serif_family(family.clone());
            db.set_serif_family(family.clone());
            db.set_monospace_family(family.clone());
        }
        (Arc::new(db), family)
    })
}

/// Renders `svg` to PNG bytes at `scale` (1.0: one pixel per SVG unit), on white.
pub(crate) fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| Error::Plot(format!("cannot rasterise the plot: {e}"));
    let (fontdb, font_family) = fonts();
    let opts = usvg::Options { fontdb: Arc::clone(fontdb), font_family: font_family.clone(), ..Default::default() };
    let tree = usvg::Tree::from_str(svg, &opts).map_err(|e| bad(&e))?;
    let size = tree.size();
    let (w, h) = ((size.width() * scale).ceil() as u32, (size.height() * scale).ceil() as u32);
    let mut pixmap = tiny_skia::Pixmap::new(w.max(1), h.max(1)).ok_or_else(|| bad(&format!("a {w}x{h} picture is too large")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| bad(&e))
}
