//! The data a model trains on, as a [`Dataset`]: Fashion-MNIST from the Hugging Face hub
//! (parquet, cached the hub's way under `HF_HOME`) or from the four classic IDX `.gz` files
//! (both give the same bytes in the same order), or a learner's own images in class folders
//! ([`ImageFolder`]).
//!
//! Images are kept as 28x28 `u8` (47 MB for all 70,000); tensors of the size the model wants
//! are made batch by batch by the [`loader`], through the [`transforms`], so memory stays
//! bounded at any resolution.
//!
//! - [`dataset`]: the [`Dataset`] trait; [`folder`]: image folders; [`hub_images`]: image
//!   datasets of the hub in parquet; [`photo`]: reading PNG,
//!   JPEG and WebP files;
//! - [`split`]: Fashion-MNIST in memory; [`source`]: where data come from and loading them;
//! - [`hub`]: the download and the cache; [`parquet`]: reading a hub file (its structure
//!   checked first); [`idx`]: the classic IDX files;
//! - [`transforms`]: resize, crop, letterbox, augmentation, `ToTensor()`;
//! - [`loader`]: seeded batches prepared in the background; [`load_data_fashion_mnist`], d2l's
//!   one call.

mod complete;
pub mod dataset;
pub mod folder;
pub mod hub;
pub mod hub_images;
pub mod idx;
pub mod loader;
pub mod parquet;
pub mod photo;
pub mod source;
pub mod split;
pub mod transforms;

pub use dataset::{limited, Dataset};
pub use folder::ImageFolder;
pub use hub_images::HubImages;
pub use hub::{Hub, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, HUB_FILES, HUB_REPO};
// The byte-level parsers (`parse_idx`, `decode_images`, `decode_labels`, `decode_png`,
// `parquet_bytes_to_split`) stay public for the fuzz targets (fuzz/), which link the crate as a
// user does and feed them arbitrary bytes.
pub use idx::{decode_images, decode_labels, load_idx_dir, parse_idx, read_idx_images, read_idx_labels, IDX_FILES};
pub use loader::{Batch, DataLoader, LoaderConfig};
pub use parquet::{decode_png, load_parquet, parquet_bytes_to_split};
pub use source::{load_data_fashion_mnist, Source};
pub use split::{class_name, FashionMnist, Split, CLASS_NAMES, SIDE};
pub(crate) use split::{PIXELS, TEST_IMAGES, TRAIN_IMAGES};
pub use transforms::{Augment, Pipeline, ResizeMode};
