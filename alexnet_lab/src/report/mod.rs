//! What people see: plots ([`plot`], rasterised by [`raster`]), text tables and CSV ([`table`]),
//! progress bars ([`progress`]), and how results show themselves in a notebook ([`display`]). Knows nothing of networks or training: the layers
//! above turn their results into series, rows and pictures with these.

pub mod display;
pub mod plot;
pub mod progress;
pub mod raster;
pub mod table;

pub use display::{Png, Svg};
