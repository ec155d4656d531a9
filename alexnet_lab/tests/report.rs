//! Plots as pictures: every SVG the lab draws also becomes a PNG (what an untrusted notebook in
//! JupyterLab can show), with its text set in the embedded font.

use alexnet_lab::report::plot::{lines_svg, Series};
mod common;

/// Dark pixels (any channel below 128) in the rows `y0..y1` of an RGBA picture.
fn dark(img: &image::RgbaImage, y0: u32, y1: u32) -> usize {
    (y0..y1.min(img.height())).flat_map(|y| (0..img.width()).map(move |x| (x, y))).filter(|&(x, y)| img.get_pixel(x, y).0[..3].iter().any(|&c| c < 128)).count()
}

#[test]
fn a_plot_becomes_a_png_with_its_title_written_in_the_embedded_font() {
    let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i * i) as f64)).collect();
    let svg = lines_svg("Squares", "x", "y", &[Series { name: "x^2", points: pts }], false).unwrap();
    let png = svg.to_png().unwrap();
    let img = image::load_from_memory_with_format(png.as_bytes(), image::ImageFormat::Png).unwrap().to_rgba8();
    assert_eq!((img.width(), img.height()), (680, 420), "one pixel per SVG unit");
    // The caption sits in the top 36 rows, above the chart, centred: text drawn there is the
    // only dark ink (without a font it stays white).
    let caption = dark(&img, 0, 36);
    assert!(caption > 50, "the title's glyphs are drawn: {caption} dark pixels");
    // An empty plot of the same size has no ink in that band.
    let blank = alexnet_lab::report::Svg(r#"<svg width="680" height="420" xmlns="http://www.w3.org/2000/svg"></svg>"#.into());
    let blank = image::load_from_memory(blank.to_png().unwrap().as_bytes()).unwrap().to_rgba8();
    assert_eq!(dark(&blank, 0, 420), 0, "white background");
}

/// A sweep of one batch size (or a run of one epoch) is one point: it is plotted, and only a
/// series without points is refused.
#[test]
fn a_single_point_is_plotted_and_no_points_is_an_error() {
    let one = Series { name: "measured", points: vec![(128.0, 1.5)] };
    let svg = lines_svg("One batch size", "batch", "GiB", &[one], false).unwrap();
    assert!(svg.0.contains("<circle"), "the point is drawn");
    let none = Series { name: "measured", points: vec![] };
    let e = lines_svg("Nothing", "batch", "GiB", &[none], false).unwrap_err().to_string();
    assert!(e.contains("no points to plot"), "{e}");
}

#[test]
fn malformed_svg_is_an_error_not_a_panic() {
    let e = alexnet_lab::report::Svg("<svg".into()).to_png().unwrap_err().to_string();
    assert!(e.contains("cannot rasterise the plot"), "{e}");
}

/// Misclassified examples as a PNG: two title lines per cell, room for both, every image shown.
#[test]
fn mistakes_png_gives_each_title_its_own_lines() {
    use alexnet_lab::data::{FashionMnist, Source};
    use alexnet_lab::train::Evaluation;
    let test = FashionMnist::load_test(&Source::IdxDir(common::idx_dir())).unwrap().limited(Some(12));
    let labels: Vec<u32> = test.labels().iter().map(|&l| u32::from(l)).collect();
    // Every second example "wrong": predicted as the next class.
    let predictions: Vec<u32> = labels.iter().enumerate().map(|(i, &l)| if i % 2 == 0 { (l + 1) % 10 } else { l }).collect();
    let ev = Evaluation { accuracy: 0.5, loss: 0.0, examples: 12, predictions, labels, classes: alexnet_lab::data::Dataset::class_names(&test).to_vec() };
    let png = ev.mistakes_png(&test, 18, 3).unwrap();
    let img = image::load_from_memory(&png.0).unwrap();
    // 6 mistakes, 3 per row: 2 rows of 112-px images under 2 title lines (16 px each + 2).
    assert_eq!((img.width(), img.height()), (3 * (112 + 8) + 8, 2 * (112 + 34 + 8) + 8));
    let svg = alexnet_lab::report::plot::image_grid_svg(&[(test.image(0).unwrap(), 28, 28)], &["a\nb".into()], 1, 28).unwrap();
    assert_eq!(svg.as_str().matches("<text").count(), 2, "each line its own text element: {}", svg.as_str());
}

#[test]
fn a_knob_is_the_cells_value_unless_the_environment_overrides_it() {
    use alexnet_lab::report::display::knob;
    use alexnet_lab::train::Profile;
    // Names no other test sets.
    std::env::remove_var("LAB_TEST_KNOB_A");
    let p: Profile = knob("LAB_TEST_KNOB_A", "cpu-full").unwrap();
    assert_eq!(p, Profile::CpuFull);
    std::env::set_var("LAB_TEST_KNOB_B", "smoke");
    let p: Profile = knob("LAB_TEST_KNOB_B", "cpu-full").unwrap();
    assert_eq!(p, Profile::Smoke, "the environment overrides");
    std::env::set_var("LAB_TEST_KNOB_C", "lots");
    let e = knob::<usize>("LAB_TEST_KNOB_C", "10000").unwrap_err().to_string();
    assert!(e.contains("LAB_TEST_KNOB_C") && e.contains("`lots` does not parse"), "{e}");
    let e = knob::<Profile>("LAB_TEST_KNOB_A", "cpu-fast").unwrap_err().to_string();
    assert!(e.contains("unknown profile 'cpu-fast'"), "{e}");
}
