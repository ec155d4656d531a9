//! Everything a notebook cell uses, in one line: `use alexnet_lab::prelude::*;`.
//!
//! The lab's layers as modules (`data`, `nn`, `train`, `lecture`, `report`, `sys`), the types
//! cells name most, candle's `Device`/`Tensor`/`DType`, and the notebook helpers.

pub use crate::data::{
    self, load_data_fashion_mnist, Augment, DataLoader, Dataset, FashionMnist, HubImages, ImageFolder, Pipeline, ResizeMode, Source, Split,
    CLASS_NAMES,
};
pub use crate::lecture::{self, activations, architecture, aspect, batch_size, complexity::slides, exercises, shapes, Complexity};
pub use crate::nn::{self, AlexNet, AlexNetConfig, LeNet, LeNetConfig, ModelKind, Sequential, Vgg28, Vgg28Config};
pub use crate::report::display::{fail_fast_on_panic, knob, show_png, show_svg, Png, Svg};
pub use crate::report::{self, plot, table};
pub use crate::sys::{self, device_name, parse_device};
pub use crate::train::{self, train_ch6, Evaluation, History, Profile, RunOptions, StopToken, TrainConfig};
pub use crate::{candle, candle_nn, kernels, plotters, polars, rand, Error, Result};
pub use candle_core::{DType, Device, Module, ModuleT, Tensor};
