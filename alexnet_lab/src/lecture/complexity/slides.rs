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
pub(crate) const LECTURE_ROWS: [(&str, &str, &str); 6] = [
    ("Conv1", "35K", "101M"),
    ("Conv2", "614K", "415M"),
    ("Conv3-5", "3M", "445M"),
    ("Dense1", "26M", "26M"),
    ("Dense2", "16M", "16M"),
    ("Total", "46M", "1G"),
];
/// The lecture's "AlexNet vs LeNet" increase: parameters and FLOPs.
pub(crate) const LECTURE_INCREASE: (f64, f64) = (76.0, 250.0);
/// The same slide's LeNet column: (row, parameters, FLOPs) as printed (no Conv3-5 row).
pub(crate) const LECTURE_LENET_ROWS: [(&str, &str, &str); 5] = [
    ("Conv1", "150", "1.2M"),
    ("Conv2", "2.4K", "2.4M"),
    ("Dense1", "0.48M", "0.48M"),
    ("Dense2", "0.1M", "0.1M"),
    ("Total", "0.6M", "4M"),
];
/// The lecture's summary slide: "AlexNet is a bigger, deeper LeNet: 10x the parameters, 260x
/// the compute" (10x 参数个数, 260x 计算复杂度).
pub(crate) const LECTURE_SUMMARY: (f64, f64) = (10.0, 260.0);

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
            "The slide's ratios come from its LeNet column, 46M/{lp} = {} params and 1G/{lf} = {} FLOPs, whose \
             dense parameters and FLOPs are 10x d2l's LeNet ({} params, {} MACs) while its conv parameters match \
             (slides::lenet_column): a slip on the slide, not a larger LeNet. Against d2l's LeNet AlexNet has \
             {rp:.0}x the parameters and {rm:.0}x the multiply-adds per image",
            human(46e6 / lp), human(1e9 / lf), thousands(lenet.totals.params), thousands(lenet.totals.macs)
        ),
    }
}

/// A figure as the slide prints it ("150", "2.4K", "0.48M", "1G") as a number.
pub fn parse_slide_number(s: &str) -> Result<f64> {
    let s = s.trim();
    let (num, scale) = [("K", 1e3), ("M", 1e6), ("G", 1e9)]
        .iter()
        .find_map(|&(unit, scale)| s.strip_suffix(unit).map(|n| (n, scale)))
        .unwrap_or((s, 1.0));
    num.parse::<f64>().map(|v| v * scale).map_err(|_| Error::config(format!("not a slide figure: '{s}'")))
}

/// One row of the slide's LeNet column beside d2l's LeNet: the slide's figures, d2l's
/// (computed) figures and their ratios.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LenetRow {
    pub row: String,
    pub lecture_params: String,
    pub lecture_flops: String,
    pub params: u64,
    pub macs: u64,
    /// Slide / d2l.
    pub params_ratio: f64,
    pub flops_ratio: f64,
}

/// The slide's LeNet column checked against d2l's LeNet (grouped as the slide groups it:
/// Conv1, Conv2, Dense1 = 400->120, Dense2 = 120->84; the 84->10 output layer only in Total).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LenetColumn {
    pub rows: Vec<LenetRow>,
    /// The increase the slide's own columns give (AlexNet total / LeNet total).
    pub slide_increase: (f64, f64),
    /// AlexNet over LeNet, both as d2l builds them (1 channel).
    pub computed_increase: (f64, f64),
}

pub fn lenet_column(alexnet: &Complexity, lenet: &Complexity) -> Result<LenetColumn> {
    let convs: Vec<_> = lenet.rows_of_kind("Conv2d").collect();
    let dense: Vec<_> = lenet.rows_of_kind("Linear").collect();
    let (Some(c1), Some(c2), Some(d1), Some(d2)) = (convs.get(0..1), convs.get(1..2), dense.get(0..1), dense.get(1..2)) else {
        return Err(Error::config(format!("{} is not LeNet: it needs 2 convolutions and 2 hidden dense layers", lenet.model)));
    };
    let groups = [sum(c1), sum(c2), sum(d1), sum(d2), (lenet.totals.params, lenet.totals.macs)];
    let rows = LECTURE_LENET_ROWS
        .iter()
        .zip(groups)
        .map(|(&(row, lp, lf), (p, m))| {
            Ok(LenetRow {
                row: row.into(),
                lecture_params: lp.into(),
                lecture_flops: lf.into(),
                params: p,
                macs: m,
                params_ratio: parse_slide_number(lp)? / p as f64,
                flops_ratio: parse_slide_number(lf)? / m as f64,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let total = |rows: &[(&str, &str, &str)]| -> Result<(f64, f64)> {
        let t = rows.iter().find(|r| r.0 == "Total").ok_or_else(|| Error::config("no Total row"))?;
        Ok((parse_slide_number(t.1)?, parse_slide_number(t.2)?))
    };
    let ((ap, af), (lp, lf)) = (total(&LECTURE_ROWS)?, total(&LECTURE_LENET_ROWS)?);
    Ok(LenetColumn {
        rows,
        slide_increase: (ap / lp, af / lf),
        computed_increase: (
            alexnet.totals.params as f64 / lenet.totals.params as f64,
            alexnet.totals.macs as f64 / lenet.totals.macs as f64,
        ),
    })
}

/// [`lenet_column`] for d2l's AlexNet and LeNet.
pub fn lenet_column_default() -> Result<LenetColumn> {
    let (a, l) = (AlexNetConfig::d2l(), LeNetConfig::d2l());
    lenet_column(
        &Complexity::of_specs("AlexNet", &a.input_dims(), &a.layer_specs()?)?,
        &Complexity::of_specs("LeNet", &l.input_dims(), &l.layer_specs()?)?,
    )
}

impl std::fmt::Display for LenetColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![r.row.clone(), r.lecture_params.clone(), thousands(r.params), format!("{:.2}x", r.params_ratio),
                     r.lecture_flops.clone(), thousands(r.macs), format!("{:.2}x", r.flops_ratio)]
            })
            .collect();
        f.write_str(&render(
            &["row", ">slide params", ">d2l LeNet params", ">slide/d2l", ">slide FLOP", ">d2l LeNet MACs", ">slide/d2l"],
            &body,
        ))?;
        let (sp, sf) = self.slide_increase;
        let (cp, cf) = self.computed_increase;
        let (np, nf) = LECTURE_SUMMARY;
        writeln!(f)?;
        writeln!(f, "AlexNet / LeNet from the slide's own totals (46M / 0.6M, 1G / 4M): {sp:.1}x parameters, {sf:.1}x FLOPs.")?;
        writeln!(f, "AlexNet / LeNet as d2l builds both (1 channel): {cp:.0}x parameters, {cf:.0}x multiply-adds.")?;
        write!(f, "The lecture's summary slide says {np:.0}x parameters and {nf:.0}x compute.")
    }
}

impl LenetColumn {
    pub fn evcxr_display(&self) {
        text(&self.to_string());
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
pub(crate) fn render_comparison(rows: &[ComparisonRow]) -> String {
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
