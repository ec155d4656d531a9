//! The lecture's claims and experiments, each recomputed from the networks: the architecture
//! slide ([`architecture`]: layers side by side, dropout), the layer-by-layer [`shapes`] walk, [`complexity`] (parameters, MACs, FLOPs, and the slide's table beside
//! them), ReLU vs sigmoid ([`activations`]), and the two Q&A experiments: batch size vs memory
//! ([`batch_size`]) and forced resize vs aspect-preserving crop ([`aspect`]); the chapter's
//! exercises answered by experiment ([`exercises`]).

pub mod activations;
pub mod architecture;
pub mod aspect;
pub mod batch_size;
pub mod complexity;
pub mod exercises;
pub mod shapes;

pub use complexity::Complexity;
pub use shapes::{ShapeStep, ShapeWalk};
