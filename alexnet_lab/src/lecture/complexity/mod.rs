//! Parameters and compute per layer, computed from a model's own layers (never typed in),
//! and the lecture's complexity table set beside the computed one ([`slides`]).

mod counts;
pub mod slides;

pub use counts::{Complexity, LayerRow, Totals};
