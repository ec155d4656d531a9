//! Parameter and multiply-add counts per layer, computed from a model's layer list.

use polars::prelude::*;

use crate::nn::LayerSpec;
use crate::nn::{infer_shapes, Sequential};
use crate::report::display::{text, Svg};
use crate::report::plot::share_bars_svg;
use crate::report::table::{csv_string, human, render, thousands};
use crate::Result;

/// One row of the per-layer table (per example: MACs and FLOPs for one image).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerRow {
    pub index: usize,
    /// PyTorch's class name: `Conv2d`, `ReLU`, ...
    pub kind: String,
    /// The layer as PyTorch prints it: `Conv2d(1, 96, kernel_size=11, stride=4, padding=1)`.
    pub layer: String,
    pub output_shape: Vec<usize>,
    pub params: u64,
    /// Multiply-adds per example.
    pub macs: u64,
    /// Floating-point operations per example (2 x MACs).
    pub flops: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Totals {
    pub params: u64,
    pub macs: u64,
    pub flops: u64,
}

/// The per-layer complexity of a model for one input example.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Complexity {
    pub model: String,
    pub input: Vec<usize>,
    pub layers: Vec<LayerRow>,
    pub totals: Totals,
}

impl Complexity {
    /// From a built model: parameters counted from its tensors, shapes and MACs from its layers.
    pub fn of(net: &Sequential) -> Result<Self> {
        let shapes = net.output_shapes()?;
        let params: Vec<u64> = net.layers().iter().map(|l| l.num_params() as u64).collect();
        Ok(Self::build(net.name(), &net.input_dims(), &net.specs(), &shapes, &params))
    }

    /// From a layer list alone (no weights allocated): the same numbers as [`Complexity::of`].
    pub fn of_specs(model: &str, input: &[usize], specs: &[LayerSpec]) -> Result<Self> {
        let shapes = infer_shapes(specs, input)?;
        let params: Vec<u64> = specs.iter().map(|s| s.num_params() as u64).collect();
        Ok(Self::build(model, input, specs, &shapes, &params))
    }

    fn build(model: &str, input: &[usize], specs: &[LayerSpec], shapes: &[Vec<usize>], params: &[u64]) -> Self {
        let layers: Vec<LayerRow> = specs
            .iter()
            .zip(shapes)
            .zip(params)
            .enumerate()
            .map(|(index, ((spec, shape), &params))| {
                let macs = spec.macs(shape);
                LayerRow {
                    index,
                    kind: spec.kind().into(),
                    layer: spec.describe(),
                    output_shape: shape.clone(),
                    params,
                    macs,
                    flops: 2 * macs,
                }
            })
            .collect();
        let totals = Totals {
            params: layers.iter().map(|r| r.params).sum(),
            macs: layers.iter().map(|r| r.macs).sum(),
            flops: layers.iter().map(|r| r.flops).sum(),
        };
        Self { model: model.into(), input: input.to_vec(), layers, totals }
    }

    /// Rows of the layers of one kind (`"Conv2d"`, `"Linear"`), in order.
    pub fn rows_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a LayerRow> + 'a {
        self.layers.iter().filter(move |r| r.kind == kind)
    }

    /// The share of all parameters and of all multiply-adds held by the layers of `kind`
    /// (`"Conv2d"`: the lecture's "convolutions hold few parameters but most of the compute").
    pub fn share(&self, kind: &str) -> (f64, f64) {
        let params: u64 = self.rows_of_kind(kind).map(|r| r.params).sum();
        let macs: u64 = self.rows_of_kind(kind).map(|r| r.macs).sum();
        (params as f64 / self.totals.params.max(1) as f64, macs as f64 / self.totals.macs.max(1) as f64)
    }

    /// Each layer with parameters: its share of the parameters and of the multiply-adds, as bars.
    pub fn share_plot(&self) -> Result<Svg> {
        let rows: Vec<&LayerRow> = self.layers.iter().filter(|r| r.params > 0).collect();
        let labels: Vec<String> = rows.iter().map(|r| format!("{} {}", r.index, r.kind)).collect();
        let p = rows.iter().map(|r| r.params as f64 / self.totals.params.max(1) as f64).collect();
        let m = rows.iter().map(|r| r.macs as f64 / self.totals.macs.max(1) as f64).collect();
        share_bars_svg(
            &format!("{}: share of parameters and of multiply-adds", self.model),
            &labels,
            &[("parameters", p), ("multiply-adds", m)],
        )
    }

    /// The table as a polars DataFrame: index, kind, layer, output_shape, params, macs, flops.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let r = &self.layers;
        let shape: Vec<String> = r.iter().map(|r| format!("{:?}", r.output_shape)).collect();
        Ok(df!(
            "index" => r.iter().map(|r| r.index as u32).collect::<Vec<_>>(),
            "kind" => r.iter().map(|r| r.kind.clone()).collect::<Vec<_>>(),
            "layer" => r.iter().map(|r| r.layer.clone()).collect::<Vec<_>>(),
            "output_shape" => shape,
            "params" => r.iter().map(|r| r.params).collect::<Vec<_>>(),
            "macs" => r.iter().map(|r| r.macs).collect::<Vec<_>>(),
            "flops" => r.iter().map(|r| r.flops).collect::<Vec<_>>(),
        )?)
    }

    /// An aligned text table with a totals line.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|r| {
                vec![
                    r.index.to_string(),
                    r.layer.clone(),
                    format!("{:?}", r.output_shape),
                    thousands(r.params),
                    thousands(r.macs),
                    thousands(r.flops),
                ]
            })
            .collect();
        let t = &self.totals;
        rows.push(vec![
            String::new(),
            "total".into(),
            String::new(),
            thousands(t.params),
            thousands(t.macs),
            thousands(t.flops),
        ]);
        format!("{}\n{}", self.summary(), render(&["#", "layer", "output shape", ">params", ">MACs", ">FLOPs"], &rows))
    }

    /// `AlexNet for one [1, 224, 224] input: 46.8M parameters, 938.1M multiply-adds (1.9G FLOPs)`.
    pub fn summary(&self) -> String {
        let t = &self.totals;
        format!(
            "{} for one {:?} input: {} parameters, {} multiply-adds ({} FLOPs)",
            self.model,
            self.input,
            human(t.params as f64),
            human(t.macs as f64),
            human(t.flops as f64)
        )
    }

    /// CSV with a header line and a final `total` row (shapes as `1x96x54x54`), through
    /// polars' CSV writer.
    pub fn to_csv(&self) -> Result<String> {
        let r = &self.layers;
        let t = &self.totals;
        let shape = |r: &LayerRow| Some(r.output_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x"));
        let mut df = df!(
            "index" => r.iter().map(|r| Some(r.index as u32)).chain([None]).collect::<Vec<_>>(),
            "kind" => r.iter().map(|r| r.kind.clone()).chain(["total".to_string()]).collect::<Vec<_>>(),
            "layer" => r.iter().map(|r| Some(r.layer.clone())).chain([None]).collect::<Vec<_>>(),
            "output_shape" => r.iter().map(shape).chain([None]).collect::<Vec<_>>(),
            "params" => r.iter().map(|r| r.params).chain([t.params]).collect::<Vec<_>>(),
            "macs" => r.iter().map(|r| r.macs).chain([t.macs]).collect::<Vec<_>>(),
            "flops" => r.iter().map(|r| r.flops).chain([t.flops]).collect::<Vec<_>>(),
        )?;
        csv_string(&mut df)
    }

    /// Shows [`Complexity::to_table`] as the cell's output.
    pub fn evcxr_display(&self) {
        text(&self.to_table());
    }

    pub fn to_json(&self) -> String {
        // Plain numbers and strings: serialising cannot fail; an empty object if it ever did.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}
