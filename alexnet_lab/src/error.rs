//! The lab's error type: every error a user's input can cause names the problem and the fix.

use crate::layers::ShapeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value that cannot work (batch size 0, an image too small, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A tensor or layer shape that does not fit the model.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Input data that is missing or malformed.
    #[error("data error: {0}")]
    Data(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn config(msg: impl Into<String>) -> Self {
        Self::Config(msg.into())
    }
    pub fn data(msg: impl Into<String>) -> Self {
        Self::Data(msg.into())
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
