//! Plots with plotters (SVG, no font files needed) and the `image` crate (PNG): line charts
//! (d2l's Animator among them), bars, image grids, feature maps. Each returns a
//! [`Svg`] or [`Png`] that a notebook cell shows by ending with it.

use plotters::prelude::*;

use super::display::{Png, Svg};
use crate::{Error, Result};

fn gray(w: usize, h: usize, px: &[u8]) -> Result<image::GrayImage> {
    image::GrayImage::from_raw(w as u32, h as u32, px.to_vec())
        .ok_or_else(|| Error::data(format!("{} bytes do not make a {w}x{h} greyscale image", px.len())))
}

fn perr<E: std::fmt::Display>(e: E) -> Error {
    Error::Plot(e.to_string())
}

/// d2l's Animator: lines with a marker on every point against `x_desc` (epochs), from 0, y
/// from 0 to at least 1 (accuracies and a loss on one axis), legend upper right.
pub(crate) fn animator_svg(title: &str, x_desc: &str, series: &[Series]) -> Result<Svg> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let pts = || series.iter().flat_map(|s| s.points.iter());
        let x_max = pts().map(|p| p.0).fold(1.0f64, f64::max);
        let y_max = pts().map(|p| p.1).fold(1.0f64, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(perr)?;
        chart.configure_mesh().x_desc(x_desc).light_line_style(WHITE.mix(0.0)).draw().map_err(perr)?;
        for (i, s) in series.iter().enumerate() {
            let color = color(i);
            chart
                .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
                .map_err(perr)?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(perr)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(perr)?;
        root.present().map_err(perr)?;
    }
    Ok(Svg(svg))
}

/// A grid of greyscale images (`(pixels, width, height)`) with a title above each, as SVG.
/// Pixels are drawn as rectangles, so the file needs no image decoder to view.
pub fn image_grid_svg(images: &[(&[u8], usize, usize)], titles: &[String], cols: usize, cell: usize) -> Result<Svg> {
    let cols = cols.max(1);
    let rows = images.len().div_ceil(cols).max(1);
    // A title may hold several lines ('\n'); every cell gets room for the longest.
    let title_h = 16 * titles.iter().map(|t| t.lines().count()).max().unwrap_or(1).max(1) + 2;
    let (w, h) = (cols * (cell + 8) + 8, rows * (cell + title_h + 8) + 8);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        for (k, &(px, iw, ih)) in images.iter().enumerate() {
            let (x0, y0) = ((k % cols) * (cell + 8) + 8, (k / cols) * (cell + title_h + 8) + 8);
            for (j, line) in titles.get(k).map(|t| t.lines().collect::<Vec<_>>()).unwrap_or_default().into_iter().enumerate() {
                root.draw(&Text::new(line.to_string(), (x0 as i32, (y0 + 16 * j) as i32), ("sans-serif", 13))).map_err(perr)?;
            }
            let s = cell as f64 / iw.max(ih) as f64;
            for y in 0..ih {
                for x in 0..iw {
                    let v = px.get(y * iw + x).copied().unwrap_or(0);
                    let (ax, ay) = (x0 as f64 + x as f64 * s, (y0 + title_h) as f64 + y as f64 * s);
                    let r = Rectangle::new(
                        [(ax as i32, ay as i32), ((ax + s).ceil() as i32, (ay + s).ceil() as i32)],
                        RGBColor(v, v, v).filled(),
                    );
                    root.draw(&r).map_err(perr)?;
                }
            }
        }
        root.present().map_err(perr)?;
    }
    Ok(Svg(svg))
}

/// A grid of greyscale images as one PNG (no titles), `pad` black pixels between them.
pub(crate) fn image_grid_png(images: &[(&[u8], usize, usize)], cols: usize, pad: usize) -> Result<Png> {
    let cols = cols.max(1);
    let (cw, ch) = images.iter().fold((1, 1), |(a, b), &(_, w, h)| (a.max(w), b.max(h)));
    let rows = images.len().div_ceil(cols).max(1);
    let mut canvas = image::GrayImage::new((cols * (cw + pad) + pad) as u32, (rows * (ch + pad) + pad) as u32);
    for (k, &(px, w, h)) in images.iter().enumerate() {
        let img = gray(w, h, px)?;
        let (x, y) = ((k % cols) * (cw + pad) + pad, (k / cols) * (ch + pad) + pad);
        image::imageops::replace(&mut canvas, &img, x as i64, y as i64);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    canvas.write_to(&mut out, image::ImageFormat::Png).map_err(perr)?;
    Ok(Png(out.into_inner()))
}

/// One named series of `(x, y)` points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn color(i: usize) -> RGBColor {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or(BLACK)
}

/// A line chart (markers on every point), optionally with a log-scale y axis, as SVG.
pub fn lines_svg(title: &str, x_desc: &str, y_desc: &str, series: &[Series], log_y: bool) -> Result<Svg> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = pts.clone().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts.fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    // Also false for NaN bounds (no points).
    let ordered = x0 <= x1 && y0 <= y1;
    if !ordered {
        return Err(Error::Plot("lines_svg: no points to plot".into()));
    }
    // One x value (a sweep of one batch size, a run of one epoch): a unit-wide axis around it.
    let pad = if x1 > x0 { (x1 - x0) * 0.03 } else { x0.abs().max(1.0) * 0.5 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (680, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let mut b = ChartBuilder::on(&root);
        b.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(36).y_label_area_size(64);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let fx = |v: &f64| if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.2}") };
                let fy = |v: &f64| {
                    if log_y {
                        crate::report::table::human(*v)
                    } else if (v - v.round()).abs() < 1e-9 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.2}")
                    }
                };
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .x_label_formatter(&fx)
                    .y_label_formatter(&fy)
                    .draw()
                    .map_err(perr)?;
                for (i, s) in series.iter().enumerate() {
                    let c = color(i);
                    chart
                        .draw_series(LineSeries::new(s.points.clone(), c.stroke_width(2)))
                        .map_err(perr)?
                        .label(s.name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
                    chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(perr)?;
                }
                if series.len() > 1 {
                    chart
                        .configure_series_labels()
                        .position(SeriesLabelPosition::UpperLeft)
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(perr)?;
                }
            }};
        }
        if log_y {
            draw!(b.build_cartesian_2d(x0 - pad..x1 + pad, (y0 * 0.5..y1 * 2.0).log_scale()).map_err(perr)?);
        } else {
            let ypad = (y1 - y0).max(1e-9) * 0.05;
            draw!(b.build_cartesian_2d(x0 - pad..x1 + pad, (y0 - ypad).min(0.0)..y1 + ypad).map_err(perr)?);
        }
        root.present().map_err(perr)?;
    }
    Ok(Svg(svg))
}

/// Horizontal bars, one row per label and one bar per column inside the row (e.g. each layer's
/// share of the parameters and of the multiply-adds), values in [0, 1], as SVG.
pub(crate) fn share_bars_svg(title: &str, labels: &[String], columns: &[(&str, Vec<f64>)]) -> Result<Svg> {
    let (n, k) = (labels.len(), columns.len().max(1));
    let (row_h, left, width, top) = (12 * k as i32 + 10, 110, 520, 60);
    let height = top + row_h * n as i32 + 30;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, ((left + width + 60) as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let font = ("sans-serif", 13).into_font();
        root.draw(&Text::new(title.to_string(), (10, 8), ("sans-serif", 18))).map_err(perr)?;
        for (ci, (name, _)) in columns.iter().enumerate() {
            let (x, y) = (left + 160 * ci as i32, 34);
            let c = color(ci);
            root.draw(&Rectangle::new([(x, y), (x + 14, y + 10)], c.filled())).map_err(perr)?;
            root.draw(&Text::new(name.to_string(), (x + 20, y - 1), font.clone())).map_err(perr)?;
        }
        for (i, label) in labels.iter().enumerate() {
            let y = top + row_h * i as i32;
            root.draw(&Text::new(label.clone(), (10, y + row_h / 2 - 8), font.clone())).map_err(perr)?;
            for (ci, (_, vals)) in columns.iter().enumerate() {
                let v = vals.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
                let (y0, x1) = (y + 4 + 12 * ci as i32, left + (v * width as f64).round() as i32);
                let c = color(ci);
                root.draw(&Rectangle::new([(left, y0), (x1.max(left + 1), y0 + 10)], c.filled())).map_err(perr)?;
                root.draw(&Text::new(format!("{:.1}%", v * 100.0), (x1 + 4, y0 - 1), ("sans-serif", 11))).map_err(perr)?;
            }
        }
        root.draw(&PathElement::new(vec![(left, top - 4), (left, top + row_h * n as i32)], BLACK)).map_err(perr)?;
        root.present().map_err(perr)?;
    }
    Ok(Svg(svg))
}

/// The channels of a feature map `(c, h, w)` (or `(1, c, h, w)`) as a PNG grid, each channel
/// scaled to its own min..max, at most `max_maps` of them, upscaled by `zoom`.
pub fn feature_maps_png(t: &candle_core::Tensor, max_maps: usize, cols: usize, zoom: usize) -> Result<Png> {
    let t = if t.rank() == 4 { t.get(0)? } else { t.clone() };
    let (c, h, w) = t.dims3()?;
    let v: Vec<f32> = t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1()?;
    let zoom = zoom.max(1);
    let maps: Vec<Vec<u8>> = (0..c.min(max_maps))
        .map(|k| {
            let m = v.get(k * h * w..(k + 1) * h * w).unwrap_or_default();
            let (lo, hi) = m.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let span = if hi > lo { hi - lo } else { 1.0 };
            let small: Vec<u8> = m.iter().map(|&x| ((x - lo) / span * 255.0).round() as u8).collect();
            let img = gray(w, h, &small)?;
            Ok(image::imageops::resize(&img, (w * zoom) as u32, (h * zoom) as u32, image::imageops::FilterType::Nearest)
                .into_raw())
        })
        .collect::<Result<_>>()?;
    let refs: Vec<(&[u8], usize, usize)> = maps.iter().map(|m| (m.as_slice(), w * zoom, h * zoom)).collect();
    image_grid_png(&refs, cols, 2)
}
