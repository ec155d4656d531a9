//! Evaluation in eval mode (d2l's `evaluate_accuracy_gpu`): accuracy, loss, every prediction,
//! per-class accuracy, the confusion matrix; and the same for a saved checkpoint.

use std::path::Path;

use candle_core::{DType, Device, Tensor, D};

use super::checkpoint::{self, CheckpointMeta};
use crate::data::{limited, DataLoader, LoaderConfig, Source, Split, SIDE};
use crate::nn::Sequential;
use crate::report::display::{text, Png, Svg};
use crate::report::plot::image_grid_svg;
use crate::report::progress::bar;
use crate::report::table::render;
use crate::sys::device::device_name;
use crate::Result;

/// Accuracy (and mean loss) of a model on a loader, in eval mode (dropout off).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub accuracy: f64,
    pub loss: f64,
    pub examples: usize,
    /// Predicted class of every example, in the loader's order.
    pub predictions: Vec<u32>,
    pub labels: Vec<u32>,
    /// The dataset's class names, in label order.
    pub classes: Vec<String>,
}

/// The share of `predictions` equal to `labels` (0 when there are none): the one accuracy of
/// the lab.
pub fn accuracy<P: Copy + Into<u32>, L: Copy + Into<u32>>(predictions: &[P], labels: &[L]) -> f64 {
    let n = predictions.len().min(labels.len());
    let right = predictions.iter().zip(labels).filter(|(p, l)| (**p).into() == (**l).into()).count();
    if n == 0 { 0.0 } else { right as f64 / n as f64 }
}

/// Number of correct predictions in a batch (on the device, no copy of the logits).
pub(crate) fn correct(logits: &Tensor, labels: &Tensor) -> Result<f64> {
    Ok(logits.argmax(D::Minus1)?.eq(labels)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?)
}

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassAccuracy {
    pub class: String,
    pub examples: usize,
    pub accuracy: f64,
}

/// `counts[true][predicted]` of an evaluation over n classes; prints (and shows in a notebook)
/// as a table with class names, rows the true class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfusionMatrix {
    pub classes: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// The matrix of `predictions` against `labels` over `classes` (labels or predictions at
    /// or past `classes.len()` are not counted).
    pub fn new(predictions: &[u32], labels: &[u32], classes: &[String]) -> Self {
        let n = classes.len();
        let mut counts = vec![vec![0; n]; n];
        for (&p, &l) in predictions.iter().zip(labels) {
            if let Some(c) = counts.get_mut(l as usize).and_then(|row| row.get_mut(p as usize)) {
                *c += 1;
            }
        }
        Self { classes: classes.to_vec(), counts }
    }

    /// The off-diagonal cells, largest first: `(true class, predicted class, count)`.
    pub fn confusions(&self) -> Vec<(String, String, usize)> {
        let names = &self.classes;
        let mut v: Vec<_> = names
            .iter()
            .zip(&self.counts)
            .flat_map(|(t, row)| {
                names.iter().zip(row).filter(move |(p, _)| *p != t).map(move |(p, &c)| (t.clone(), p.clone(), c))
            })
            .filter(|c| c.2 > 0)
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.2));
        v
    }

    pub fn evcxr_display(&self) {
        text(&self.to_string());
    }
}

impl std::fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut headers = vec!["true \\ predicted".to_string()];
        headers.extend(self.classes.iter().map(|n| format!(">{n}")));
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = self
            .classes
            .iter()
            .zip(&self.counts)
            .map(|(name, r)| std::iter::once(name.to_string()).chain(r.iter().map(|c| c.to_string())).collect())
            .collect();
        f.write_str(&render(&h, &rows))
    }
}

/// d2l's `evaluate_accuracy_gpu`: batched, eval mode.
pub fn evaluate(net: &Sequential, loader: &DataLoader, device: &Device, progress: bool) -> Result<Evaluation> {
    let bar = bar(loader.num_batches(), progress, "eval");
    let dev = device_name(device);
    let (mut loss_sum, mut predictions, mut labels) = (0.0, vec![], vec![]);
    for batch in loader.epoch(0, device) {
        let b = batch?;
        let bs = b.indices.len();
        let logits = net.forward(&b.images, false).map_err(|e| e.on_device(&dev, bs))?;
        loss_sum += candle_nn::loss::cross_entropy(&logits, &b.labels)?.to_scalar::<f32>()? as f64 * bs as f64;
        predictions.extend(logits.argmax(D::Minus1)?.to_vec1::<u32>()?);
        labels.extend(b.labels.to_vec1::<u32>()?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = labels.len();
    let classes = loader.dataset().class_names().to_vec();
    Ok(Evaluation { accuracy: accuracy(&predictions, &labels), loss: loss_sum / n.max(1) as f64, examples: n, predictions, labels, classes })
}

impl Evaluation {
    /// The confusion matrix of these predictions.
    pub fn confusion(&self) -> ConfusionMatrix {
        ConfusionMatrix::new(&self.predictions, &self.labels, &self.classes)
    }

    /// Accuracy per class, in label order (classes without examples left out).
    pub fn per_class(&self) -> Vec<ClassAccuracy> {
        self.classes
            .iter()
            .enumerate()
            .filter_map(|(k, class)| {
                let (p, l): (Vec<u32>, Vec<u32>) =
                    self.predictions.iter().zip(&self.labels).filter(|(_, &l)| l as usize == k).map(|(&p, &l)| (p, l)).unzip();
                (!l.is_empty()).then(|| ClassAccuracy { class: class.clone(), examples: l.len(), accuracy: accuracy(&p, &l) })
            })
            .collect()
    }

    /// Per-class accuracy as a text table.
    pub fn per_class_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .per_class()
            .iter()
            .map(|c| vec![c.class.clone(), c.examples.to_string(), format!("{:.3}", c.accuracy)])
            .collect();
        render(&["class", ">examples", ">accuracy"], &rows)
    }

    /// The first `n` misclassified examples of `split` (the split this evaluation ran on, in
    /// order) with `true → predicted` above each, `cols` per row, as SVG.
    pub fn mistakes_svg(&self, split: &Split, n: usize, cols: usize) -> Result<Svg> {
        self.mistakes_grid(split, n, cols, 84, |t, p| format!("{t} -> {p}"))
    }

    /// [`Self::mistakes_svg`] as a PNG, each image 4x (112 px) under two title lines
    /// (`true: shirt` / `said: t-shirt/top`), so the titles never overlap: what a notebook shows.
    pub fn mistakes_png(&self, split: &Split, n: usize, cols: usize) -> Result<Png> {
        self.mistakes_grid(split, n, cols, 4 * SIDE, |t, p| format!("true: {t}\nsaid: {p}"))?.to_png()
    }

    /// The first `n` mistakes as an image grid, each titled by `title(true class, predicted)`.
    fn mistakes_grid(&self, split: &Split, n: usize, cols: usize, cell: usize, title: impl Fn(&str, &str) -> String) -> Result<Svg> {
        let wrong: Vec<usize> = self.mistakes().into_iter().take(n).collect();
        let name = |c: Option<&u32>| c.and_then(|&c| self.classes.get(c as usize)).map_or("?", String::as_str);
        let imgs = wrong.iter().map(|&i| Ok((split.image(i)?, SIDE, SIDE))).collect::<Result<Vec<_>>>()?;
        let titles: Vec<String> = wrong.iter().map(|&i| title(name(self.labels.get(i)), name(self.predictions.get(i)))).collect();
        image_grid_svg(&imgs, &titles, cols, cell)
    }

    /// Indices (in the loader's order) of the misclassified examples.
    pub fn mistakes(&self) -> Vec<usize> {
        (0..self.labels.len().min(self.predictions.len())).filter(|&i| self.predictions.get(i) != self.labels.get(i)).collect()
    }
}

/// A checkpoint evaluated on the test split: what it is, how it did.
#[derive(Debug, Clone)]
pub struct CheckpointEval {
    pub meta: CheckpointMeta,
    pub device: String,
    pub evaluation: Evaluation,
}

impl CheckpointEval {
    /// The first line `alexnet-lab eval` prints.
    pub fn summary(&self) -> String {
        let (ev, e) = (&self.evaluation, self.meta.epoch());
        format!(
            "test acc {:.3} ({} examples, loss {:.3}) after {e} epoch{}, on {}",
            ev.accuracy,
            ev.examples,
            ev.loss,
            if e == 1 { "" } else { "s" },
            self.device
        )
    }

    pub fn evcxr_display(&self) {
        text(&format!("{}\n{}", self.summary(), self.evaluation.per_class_table()));
    }
}

/// What [`evaluate_checkpoint`] evaluates on, and how.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The data whose test split is evaluated.
    pub source: Source,
    /// Only the first `limit` test examples (`None`: all).
    pub limit: Option<usize>,
    pub batch_size: usize,
    pub device: Device,
    /// A progress bar (on stderr, hidden when not a terminal).
    pub progress: bool,
}

impl EvalOptions {
    /// All of `source`'s test split, batches of 256, on the CPU, no progress bar; set the
    /// other fields as needed.
    pub fn new(source: Source) -> Self {
        Self { source, limit: None, batch_size: 256, device: Device::Cpu, progress: false }
    }
}

/// Evaluates the checkpoint in `path` (a run folder or a file in it) on the test split of
/// `opts.source`, with the checkpoint's own image size and resize mode: `alexnet-lab eval`.
///
/// ```no_run
/// use alexnet_lab::{data::Source, train::{self, EvalOptions}};
/// // d2l's LeNet trained by the `lenet` profile, committed as a test fixture.
/// let ev = train::evaluate_checkpoint("../data/fixtures/lenet-d2l".as_ref(), &EvalOptions::new(Source::hub()))?;
/// println!("{}\n{}", ev.summary(), ev.evaluation.confusion());
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
pub fn evaluate_checkpoint(path: &Path, opts: &EvalOptions) -> Result<CheckpointEval> {
    let EvalOptions { ref source, limit, batch_size, ref device, progress } = *opts;
    let (net, _, meta) = checkpoint::load_model(path, device)?;
    // Fashion-MNIST is grey; other data are made into the channels the model was trained on.
    let test = source.test_split(matches!(source, Source::ImageFolder(_) | Source::HubDataset(_)).then_some(meta.input()[0]))?;
    if test.class_names() != meta.class_names() {
        return Err(crate::Error::CheckpointMismatch(format!(
            "the checkpoint was trained on the classes {:?}, {source} has {:?}: evaluate it on the data it was trained on",
            meta.class_names(),
            test.class_names()
        )));
    }
    let loader = DataLoader::over(limited(test, limit), LoaderConfig::in_order(batch_size, meta.pipeline()))?;
    let evaluation = evaluate(&net, &loader, device, progress)?;
    Ok(CheckpointEval { meta, device: device_name(device), evaluation })
}

