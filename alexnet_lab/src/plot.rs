//! Plots with plotters (SVG, no font files needed): d2l's training curve, image grids.

use plotters::prelude::*;

use crate::train::History;
use crate::{Error, Result};

fn perr<E: std::fmt::Display>(e: E) -> Error {
    Error::data(format!("plotting failed: {e}"))
}

/// d2l's Animator: train loss, train acc (5 points per epoch) and test acc (1 per epoch)
/// against epochs, as an SVG string.
pub fn curve_svg(h: &History, title: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let epochs = h.curve.iter().map(|p| p.epoch).fold(1.0f64, f64::max);
        let ymax = h.curve.iter().filter_map(|p| p.train_loss).fold(1.0f64, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..epochs, 0f64..ymax)
            .map_err(perr)?;
        chart.configure_mesh().x_desc("epoch").light_line_style(WHITE.mix(0.0)).draw().map_err(perr)?;
        let series: [(&str, RGBColor, fn(&crate::train::CurvePoint) -> Option<f64>); 3] = [
            ("train loss", RGBColor(31, 119, 180), |p| p.train_loss),
            ("train acc", RGBColor(214, 39, 40), |p| p.train_acc),
            ("test acc", RGBColor(44, 160, 44), |p| p.test_acc),
        ];
        for (name, color, get) in series {
            let pts: Vec<(f64, f64)> = h.curve.iter().filter_map(|p| get(p).map(|v| (p.epoch, v))).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(perr)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(perr)?;
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
    Ok(svg)
}

/// A grid of greyscale images (`(pixels, width, height)`) with a title above each, as SVG.
/// Pixels are drawn as rectangles, so the file needs no image decoder to view.
pub fn image_grid_svg(images: &[(&[u8], usize, usize)], titles: &[String], cols: usize, cell: usize) -> Result<String> {
    let cols = cols.max(1);
    let rows = images.len().div_ceil(cols).max(1);
    let title_h = 18;
    let (w, h) = (cols * (cell + 8) + 8, rows * (cell + title_h + 8) + 8);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        for (k, &(px, iw, ih)) in images.iter().enumerate() {
            let (x0, y0) = ((k % cols) * (cell + 8) + 8, (k / cols) * (cell + title_h + 8) + 8);
            if let Some(t) = titles.get(k) {
                root.draw(&Text::new(t.clone(), (x0 as i32, y0 as i32), ("sans-serif", 13))).map_err(perr)?;
            }
            let s = cell as f64 / iw.max(ih) as f64;
            for y in 0..ih {
                for x in 0..iw {
                    let v = px[y * iw + x];
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
    Ok(svg)
}

/// A grid of greyscale images as one PNG (no titles), `pad` black pixels between them.
pub fn image_grid_png(images: &[(&[u8], usize, usize)], cols: usize, pad: usize) -> Result<Vec<u8>> {
    let cols = cols.max(1);
    let (cw, ch) = images.iter().fold((1, 1), |(a, b), &(_, w, h)| (a.max(w), b.max(h)));
    let rows = images.len().div_ceil(cols).max(1);
    let mut canvas = image::GrayImage::new((cols * (cw + pad) + pad) as u32, (rows * (ch + pad) + pad) as u32);
    for (k, &(px, w, h)) in images.iter().enumerate() {
        let img = crate::transforms::gray(w, h, px)?;
        let (x, y) = ((k % cols) * (cw + pad) + pad, (k / cols) * (ch + pad) + pad);
        image::imageops::replace(&mut canvas, &img, x as i64, y as i64);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    canvas.write_to(&mut out, image::ImageFormat::Png).map_err(perr)?;
    Ok(out.into_inner())
}
