//! The lecture's architecture slide: LeNet and AlexNet layer by layer, side by side, and what
//! dropout does in train and eval mode.

use candle_core::{Device, ModuleT, Tensor};

use crate::nn::Sequential;
use crate::report::display::text;
use crate::report::table::render;
use crate::Result;

/// Networks' layers side by side, one row per layer index; prints (and shows in a notebook)
/// as a table whose columns are `name (input)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideBySide {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The layers of `nets`, each in PyTorch's notation, row `i` holding every net's layer `i`.
pub fn side_by_side(nets: &[&Sequential]) -> SideBySide {
    let n = nets.iter().map(|net| net.layers().len()).max().unwrap_or(0);
    let mut headers = vec!["#".to_string()];
    headers.extend(nets.iter().map(|net| {
        let [c, h, w] = net.input_dims();
        format!("{} ({c}x{h}x{w})", net.name())
    }));
    let rows = (0..n)
        .map(|i| {
            std::iter::once(i.to_string())
                .chain(nets.iter().map(|net| net.layers().get(i).map(|l| l.spec().describe()).unwrap_or_default()))
                .collect()
        })
        .collect();
    SideBySide { headers, rows }
}

impl std::fmt::Display for SideBySide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h: Vec<&str> = self.headers.iter().map(String::as_str).collect();
        f.write_str(&render(&h, &self.rows))
    }
}

impl SideBySide {
    pub fn evcxr_display(&self) {
        text(&self.to_string());
    }
}

/// What candle's `Dropout(p)` does to `n` ones: in train mode about `p·n` become 0 and the
/// survivors `1/(1-p)`, so the mean stays about 1; in eval mode nothing changes.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutDemo {
    pub p: f32,
    pub n: usize,
    pub zeroed: usize,
    pub survivor: f32,
    pub train_mean: f32,
    pub eval_mean: f32,
}

/// Runs [`DropoutDemo`] with candle's own `Dropout` on `n` ones.
pub fn dropout_demo(p: f32, n: usize) -> Result<DropoutDemo> {
    let ones = Tensor::ones((1, n.max(1)), candle_core::DType::F32, &Device::Cpu)?;
    let drop = candle_nn::Dropout::new(p);
    let train = drop.forward_t(&ones, true)?.flatten_all()?.to_vec1::<f32>()?;
    let eval = drop.forward_t(&ones, false)?.flatten_all()?.to_vec1::<f32>()?;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    Ok(DropoutDemo {
        p,
        n: n.max(1),
        zeroed: train.iter().filter(|v| **v == 0.0).count(),
        survivor: train.iter().copied().find(|v| *v > 0.0).unwrap_or(0.0),
        train_mean: mean(&train),
        eval_mean: mean(&eval),
    })
}

impl std::fmt::Display for DropoutDemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "train mode: {} of {} zeroed, survivors = {}, mean = {:.3}",
            self.zeroed, self.n, self.survivor, self.train_mean
        )?;
        writeln!(f, "eval mode:  mean = {:.3} (unchanged)", self.eval_mean)
    }
}

impl DropoutDemo {
    pub fn evcxr_display(&self) {
        text(&self.to_string());
    }
}
