//! The lecture's complexity table ("AlexNet 复杂度") beside the one computed from the models.
//!
//! The lecture's figures are the reference being checked, so they are the only numbers typed
//! in here; every computed figure and every explanation's numbers come from the models.

use super::Complexity;
use crate::nn::{AlexNetConfig, LeNetConfig};
use crate::report::display::text;
use crate::report::table::{human, render, thousands};
use crate::{Error, Result};

/// One row of the lecture's table: (row, parameters, FLOPs) as printed on the slide.
pub const LECTURE_ROWS: [(&str, &str, &str); 6] = [
    ("Conv1", "35K", "101M"),
    ("Conv2", "614K", "415M"),
    ("Conv3-5", "3M", "445M"),
    ("Dense1", "26M", "26M"),
    ("Dense2", "16M", "16M"),
    ("Total", "46M", "1G"),
];
/// The lecture's "AlexNet vs LeNet" increase: parameters and FLOPs.
pub const LECTURE_INCREASE: (f64, f64) = (76.0, 250.0);

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComparisonRow {
    pub row: String,
    pub lecture_params: String,
    pub lecture_flops: String,
    /// d2l's code (1 input channel).
    pub params: u64,
    pub macs: u64,
    /// The same net with 3 input channels (what the lecture's Conv1 row counts).
    pub params_3ch: u64,
    pub macs_3ch: u64,
    pub note: String,
}

fn sum(rows: &[&super::LayerRow]) -> (u64, u64) {
    (rows.iter().map(|r| r.params).sum(), rows.iter().map(|r| r.macs).sum())
}

/// Groups a computed AlexNet table into the lecture's rows: Conv1, Conv2, Conv3-5, Dense1,
/// Dense2, then the output layer (absent from the slide) and the total.
fn grouped(c: &Complexity) -> Result<Vec<(&'static str, (u64, u64))>> {
    let convs: Vec<_> = c.rows_of_kind("Conv2d").collect();
    let dense: Vec<_> = c.rows_of_kind("Linear").collect();
    let (Some(conv1), Some(conv2), Some(conv3_5), Some(d1), Some(d2), Some(out)) =
        (convs.get(0..1), convs.get(1..2), convs.get(2..), dense.get(0..1), dense.get(1..2), dense.get(2..))
    else {
        return Err(Error::config(format!(
            "{} has {} convolutions and {} dense layers; the lecture's table needs AlexNet's 5 and 3",
            c.model,
            convs.len(),
            dense.len()
        )));
    };
    Ok(vec![
        ("Conv1", sum(conv1)),
        ("Conv2", sum(conv2)),
        ("Conv3-5", sum(conv3_5)),
        ("Dense1", sum(d1)),
        ("Dense2", sum(d2)),
        ("Output", sum(out)),
        ("Total", (c.totals.params, c.totals.macs)),
    ])
}

/// The comparison, row by row, with the reason for each difference.
/// `alexnet` is d2l's net, `alexnet_3ch` the same with 3 input channels, `lenet` d2l's LeNet.
pub fn compare(alexnet: &Complexity, alexnet_3ch: &Complexity, lenet: &Complexity) -> Result<Comparison> {
    let one = grouped(alexnet)?;
    let three = grouped(alexnet_3ch)?;
    let conv1_3ch_padding = alexnet_3ch.layers.first().map(|l| l.layer.clone()).unwrap_or_default();
    let rows = one
        .iter()
        .zip(&three)
        .map(|(&(row, (p, m)), &(_, (p3, m3)))| {
            let (lp, lf) = LECTURE_ROWS
                .iter()
                .find(|r| r.0 == row)
                .map(|r| (r.1.to_string(), r.2.to_string()))
                .unwrap_or_else(|| ("-".into(), "-".into()));
            let note = match row {
                "Conv1" => format!(
                    "The slide's Conv1 is the 3-channel (ImageNet) layer, {conv1_3ch_padding}: {} params, {} MACs \
                     at 224x224. d2l's code feeds 1-channel Fashion-MNIST, so its conv1 has {} params and {} MACs \
                     (one third of the 3-channel weights)",
                    thousands(p3), human(m3 as f64), thousands(p), human(m as f64)
                ),
                "Conv2" => format!("Same layer: {} params, {} MACs; matches", thousands(p), thousands(m)),
                "Conv3-5" => format!(
                    "Same three layers: {} params, {} MACs; the slide rounds down",
                    thousands(p), thousands(m)
                ),
                "Dense1" | "Dense2" => format!(
                    "{} params (weights + biases), {} MACs; matches after rounding",
                    thousands(p), thousands(m)
                ),
                "Output" => format!(
                    "Not on the slide: the 10-class output layer, {} params, {} MACs (1000 ImageNet classes \
                     would make it 4096x1000 + 1000 = 4,097,000)",
                    thousands(p), thousands(m)
                ),
                _ => format!(
                    "{} params = 46M. \"1G\" counts multiply-adds: {} MACs with 1 channel, {} with 3 \
                     (as FLOPs, 2 per MAC: {} / {}). The slide's rows with its 3-channel Conv1 add up to \
                     the 3-channel total",
                    thousands(p), human(m as f64), human(m3 as f64), human(2.0 * m as f64), human(2.0 * m3 as f64)
                ),
            };
            ComparisonRow {
                row: row.into(),
                lecture_params: lp,
                lecture_flops: lf,
                params: p,
                macs: m,
                params_3ch: p3,
                macs_3ch: m3,
                note,
            }
        })
        .chain(std::iter::once(increase_row(alexnet, lenet)))
        .collect();
    Ok(Comparison(rows))
}

/// The lecture's table beside the computed one; prints (and shows in a notebook) as a table
/// with the notes below it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Comparison(pub Vec<ComparisonRow>);

impl std::ops::Deref for Comparison {
    type Target = [ComparisonRow];
    fn deref(&self) -> &[ComparisonRow] {
        &self.0
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render_comparison(&self.0))
    }
}

impl Comparison {
    pub fn evcxr_display(&self) {
        text(&self.to_string());
    }
}

fn increase_row(alexnet: &Complexity, lenet: &Complexity) -> ComparisonRow {
    let (lp, lf) = LECTURE_INCREASE;
    let rp = alexnet.totals.params as f64 / lenet.totals.params as f64;
    let rm = alexnet.totals.macs as f64 / lenet.totals.macs as f64;
    ComparisonRow {
        row: "vs LeNet".into(),
        lecture_params: format!("{lp}x"),
        lecture_flops: format!("{lf}x"),
        params: rp.round() as u64,
        macs: rm.round() as u64,
        params_3ch: 0,
        macs_3ch: 0,
        note: format!(
            "The slide's ratios imply a LeNet of about 46M/{lp} = {} params and 1G/{lf} = {} FLOPs. d2l's LeNet \
             (1x28x28) has {} params and {} MACs, about ten times less, so AlexNet is {rp:.0}x larger and needs \
             {rm:.0}x the multiply-adds per image",
            human(46e6 / lp), human(1e9 / lf), thousands(lenet.totals.params), thousands(lenet.totals.macs)
        ),
    }
}

/// The comparison for the lab's default models (d2l AlexNet at 1x and 3x224x224, d2l LeNet),
/// computed from their layer lists.
pub fn compare_default() -> Result<Comparison> {
    let a = AlexNetConfig::d2l();
    let a3 = AlexNetConfig { in_channels: 3, ..AlexNetConfig::d2l() };
    let l = LeNetConfig::d2l();
    compare(
        &Complexity::of_specs("AlexNet", &a.input_dims(), &a.layer_specs()?)?,
        &Complexity::of_specs("AlexNet (3 channels)", &a3.input_dims(), &a3.layer_specs()?)?,
        &Complexity::of_specs("LeNet", &l.input_dims(), &l.layer_specs()?)?,
    )
}

/// The comparison as a text table (notes listed below the numbers).
pub fn render_comparison(rows: &[ComparisonRow]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            if r.row == "vs LeNet" {
                vec![r.row.clone(), r.lecture_params.clone(), r.lecture_flops.clone(),
                     format!("{}x", r.params), format!("{}x", r.macs), String::new(), String::new()]
            } else {
                vec![r.row.clone(), r.lecture_params.clone(), r.lecture_flops.clone(),
                     thousands(r.params), thousands(r.macs), thousands(r.params_3ch), thousands(r.macs_3ch)]
            }
        })
        .collect();
    let mut out = render(
        &["row", ">lecture params", ">lecture FLOP", ">params (1 ch)", ">MACs (1 ch)", ">params (3 ch)", ">MACs (3 ch)"],
        &body,
    );
    out.push('\n');
    for r in rows {
        out.push_str(&format!("{}: {}.\n", r.row, r.note));
    }
    out
}
