//! Where the tests find the real Fashion-MNIST: `HF_HOME` / `FASHION_MNIST_DIR` when set (as
//! `.ci/run` does), else `../shared/data` beside the workspace.
#![allow(dead_code)]

pub mod hub_server;
pub mod scratch;

pub use scratch::Scratch;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use alexnet_lab::data::{FashionMnist, Source};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Points `HF_HOME` at the shared hub cache when nothing else is set (once per test binary).
pub fn hub_env() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("HF_HOME").is_none() {
            let hf = workspace().join("../shared/data/hf");
            assert!(hf.is_dir(), "no HF_HOME and no {}: set HF_HOME to a hub cache", hf.display());
            std::env::set_var("HF_HOME", hf.canonicalize().unwrap());
            std::env::set_var("HF_HUB_OFFLINE", "1");
        }
    });
}

pub fn idx_dir() -> PathBuf {
    let d = std::env::var_os("FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data/fashion-mnist"));
    assert!(d.is_dir(), "no IDX directory {}: set FASHION_MNIST_DIR", d.display());
    d
}

/// The real data from the hub cache, loaded once per test binary.
pub fn hub_data() -> Arc<FashionMnist> {
    static DATA: OnceLock<Arc<FashionMnist>> = OnceLock::new();
    DATA.get_or_init(|| {
        hub_env();
        Arc::new(FashionMnist::load(&Source::hub()).expect("load Fashion-MNIST from the hub cache"))
    })
    .clone()
}

/// A deterministic pseudo-random tensor in [-1, 1) (an LCG; values distinct with probability 1,
/// so max-pool windows have no ties).
pub fn det(shape: &[usize], seed: u64, dtype: alexnet_lab::candle::DType) -> alexnet_lab::candle::Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    alexnet_lab::candle::Tensor::from_vec(v, shape, &alexnet_lab::candle::Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

/// An empty scratch folder, removed when the returned guard drops (see `scratch.rs`).
pub fn tmpdir(name: &str) -> Scratch {
    Scratch::new(&format!("test-{name}"))
}

/// Largest |a - b| over the tensors, relative to `b`'s largest magnitude.
pub fn max_rel(a: &alexnet_lab::candle::Tensor, b: &alexnet_lab::candle::Tensor) -> f64 {
    use alexnet_lab::candle::DType;
    let a: Vec<f64> = a.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f64> = b.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(&b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
}

/// Backpropagates `sum(ours · r)` and `sum(stock · r)` for one random `r` and checks that every
/// variable in `vars` gets the same gradient from both (relative error < 1e-4), or none from
/// either (returns the names that got none).
pub fn assert_same_grads(
    ours: &alexnet_lab::candle::Tensor,
    stock: &alexnet_lab::candle::Tensor,
    vars: &[(&str, &alexnet_lab::candle::Var)],
    case: &str,
) -> Vec<String> {
    let r = det(ours.dims(), 4, ours.dtype());
    let g1 = ours.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = stock.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    let mut none = vec![];
    for (name, v) in vars {
        match (g1.get(v.as_tensor()), g2.get(v.as_tensor())) {
            (Some(a), Some(e)) => {
                let err = max_rel(a, e);
                assert!(err < 1e-4, "d{name} {case}: relative error {err}");
            }
            (None, None) => none.push(name.to_string()),
            (a, e) => panic!("d{name} {case}: ours {:?}, stock {:?}", a.is_some(), e.is_some()),
        }
    }
    none
}

/// The library's source files (`src/`, without the binary in `src/bin/`), sorted.
pub fn library_sources() -> Vec<PathBuf> {
    let mut files = vec![];
    let mut stack = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("bin") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
