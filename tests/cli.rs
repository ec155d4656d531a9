//! End-to-end tests of the `alexnet-lab` binary.

#[path = "../alexnet_lab/tests/common/scratch.rs"]
mod scratch;
use scratch::Scratch;

use std::process::{Command, Output};

/// Runs the binary; whatever it is asked, it never panics.
fn lab(args: &[&str]) -> Output {
    no_panic(Command::new(env!("CARGO_BIN_EXE_alexnet-lab")).args(args).output().expect("run alexnet-lab"), args)
}

fn no_panic(o: Output, args: &[&str]) -> Output {
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains("panicked") && !all.contains("RUST_BACKTRACE"), "{args:?} panicked:\n{all}");
    o
}

/// What a build without the `cuda` feature says when asked for a GPU (with the feature, the
/// tests expect the GPU's own error instead, which names the device).
const CPU_BUILD_CUDA: &str = if cfg!(feature = "cuda") {
    "cuda:"
} else {
    "was built without the `cuda` feature; rebuild with `cargo build --release --features cuda`"
};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn shapes_prints_the_lectures_walk() {
    let o = lab(&["shapes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 21);
    assert_eq!(out.lines().next(), Some("Conv2d output shape: [1, 96, 54, 54]"));
    assert_eq!(out.lines().last(), Some("Linear output shape: [1, 10]"));
}

#[test]
fn shapes_for_lenet_and_the_original() {
    let o = lab(&["shapes", "--model", "lenet"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().nth(2), Some("AvgPool2d output shape: [1, 6, 14, 14]"));
    let o = lab(&["shapes", "--model", "alexnet-original", "--format", "csv"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("13,Flatten,1x9216"), "{}", stdout(&o));
}

#[test]
fn complexity_json_has_rows_and_totals() {
    let o = lab(&["complexity", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["layers"].as_array().unwrap().len(), 21);
    assert_eq!(j["totals"]["params"], 46_764_746u64);
    assert_eq!(j["totals"]["macs"], 938_146_176u64);
    assert_eq!(j["layers"][3]["macs"], 415_334_400u64);
}

#[test]
fn complexity_table_with_the_lecture_beside_it() {
    let o = lab(&["complexity", "--compare-lecture"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("46,764,746") && out.contains("938,146,176"));
    assert!(out.contains("Conv3-5") && out.contains("76x") && out.contains("758x"));
}

#[test]
fn complexity_with_another_input() {
    let o = lab(&["complexity", "--input", "3x224x224", "--format", "csv"]);
    assert!(o.status.success());
    assert!(stdout(&o).lines().last().unwrap().contains(",46787978,1005890688,"));
    let o = lab(&["complexity", "--model", "lenet", "--format", "json"]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["totals"]["macs"], 416_520u64);
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    for (args, needle) in [
        (vec!["complexity", "--model", "vgg"], "possible values: alexnet, alexnet-original, lenet"),
        (vec!["shapes", "--input", "1x224"], "expected channels x height x width"),
        (vec!["shapes", "--input", "axbxc"], "malformed input shape 'axbxc'"),
        (vec!["complexity", "--input", "1x64x64"], "smallest it takes is 65x65"),
        (vec!["shapes", "--input", "1x224x200"], "square"),
        (vec!["shapes", "--input", "1x8x8", "--model", "lenet"], "too small for LeNet"),
    ] {
        let o = lab(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// The real Fashion-MNIST: `HF_HOME` / `FASHION_MNIST_DIR` when set (as `.ci/run` does), else
/// `../shared/data` beside the repository.
fn shared(p: &str) -> std::path::PathBuf {
    let from_env = match p.split('/').next() {
        Some("hf") => std::env::var_os("HF_HOME"),
        Some("fashion-mnist") => std::env::var_os("FASHION_MNIST_DIR"),
        _ => None,
    };
    let d = match from_env {
        Some(root) => std::path::PathBuf::from(root).join(p.split_once('/').map_or("", |x| x.1)),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(p),
    };
    assert!(d.exists(), "{} missing: set HF_HOME / FASHION_MNIST_DIR or put the data in ../shared/data", d.display());
    d.canonicalize().unwrap()
}

fn lab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
    c.args(args).env_remove("HF_HOME").env_remove("HF_HUB_OFFLINE");
    for (k, v) in env {
        c.env(k, v);
    }
    no_panic(c.output().expect("run alexnet-lab"), args)
}

#[test]
fn data_info_and_show_from_both_sources() {
    let hf = shared("hf");
    let hf = hf.to_str().unwrap();
    let o = lab_env(&["data", "info"], &[("HF_HOME", hf), ("HF_HUB_OFFLINE", "1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("train: 60000 images, test: 10000 images"));
    // Run logs and notebook outputs name the cache without this machine's path.
    assert!(stdout(&o).contains("Fashion-MNIST from hub zalando-datasets/fashion_mnist (cache $HF_HOME/hub)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("ankle boot"));
    let idx = shared("fashion-mnist");
    let o = lab_env(&["data", "info", "--data-dir", idx.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("Fashion-MNIST from IDX files in {}", idx.display())), "{out}");
    assert!(out.contains("train: 60000 images, test: 10000 images, 28x28 greyscale"), "{out}");
    // Balanced classes: 6,000 training and 1,000 test images of each.
    let balanced = out.lines().filter(|l| l.split_whitespace().rev().take(2).eq(["1000", "6000"])).count();
    assert_eq!(balanced, 10, "{out}");
    let dir = Scratch::new("cli-show");
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["svg", "png"] {
        let out = dir.join(format!("grid.{ext}"));
        let o = lab_env(&["data", "show", "--n", "9", "--out", out.to_str().unwrap()], &[("HF_HOME", hf), ("HF_HUB_OFFLINE", "1")]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(std::fs::metadata(&out).unwrap().len() > 1000);
        assert!(stdout(&o).contains("labels: ankle boot, pullover, trouser"));
    }
}

#[test]
fn missing_data_offline_names_hf_home_and_the_alternatives() {
    let o = lab_env(&["data", "info"], &[("HF_HOME", "/nonexistent/hf"), ("HF_HUB_OFFLINE", "1")]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("HF_HOME") && e.contains("--data-dir") && !e.contains("panicked"), "{e}");
    let dir = Scratch::new("cli-partial");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(shared("fashion-mnist/t10k-labels-idx1-ubyte.gz"), dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let o = lab_env(&["data", "info", "--data-dir", dir.to_str().unwrap()], &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("lacks 3 of the four") && e.contains("train-images-idx3-ubyte.gz"), "{e}");
}

#[test]
fn train_eval_predict_from_the_terminal() {
    let hf = shared("hf");
    let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")];
    let dir = Scratch::new("cli-train");
    let _ = std::fs::remove_dir_all(&dir);
    let run = dir.to_str().unwrap();
    let o = lab_env(
        &["train", "--profile", "smoke", "--epochs", "1", "--limit", "96", "--test-limit", "64", "--out", run, "--quiet"],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let last2: Vec<&str> = out.lines().filter(|l| l.starts_with("loss ") || l.contains("examples/sec on cpu")).collect();
    assert!(last2.len() >= 2 && last2[0].contains(", train acc ") && last2[0].contains(", test acc "), "{out}");

    let o = lab_env(&["eval", "--checkpoint", run, "--limit", "64", "--device", "cpu"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("test acc ") && stdout(&o).contains("(64 examples"), "{}", stdout(&o));

    let img = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/resize/test0_96.png");
    for mode in ["resize", "crop", "letterbox"] {
        let o = lab_env(&["predict", "--checkpoint", run, "--resize", mode, img.to_str().unwrap()], &env);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("test0_96.png: "), "{}", stdout(&o));
    }
    // Bad inputs: a file that is not an image, an unknown device, a wrong run folder.
    let o = lab_env(&["predict", "--checkpoint", run, "Cargo.toml"], &env);
    assert!(!o.status.success() && stderr(&o).contains("Cargo.toml is not an image"), "{}", stderr(&o));
    let o = lab_env(&["train", "--device", "tpu:0", "--out", run], &env);
    assert!(!o.status.success() && stderr(&o).contains("unknown device 'tpu:0'"), "{}", stderr(&o));
    let o = lab_env(&["train", "--device", "cuda:0", "--out", run], &env);
    assert!(!o.status.success() && stderr(&o).contains(CPU_BUILD_CUDA), "{}", stderr(&o));
    let o = lab_env(&["eval", "--checkpoint", "/nonexistent/run"], &env);
    assert!(!o.status.success() && stderr(&o).contains("no checkpoint in"), "{}", stderr(&o));
}

/// A hub cache (`$HF_HOME/hub/...`) whose Fashion-MNIST train file is `train` (the real test file
/// stands in for the rest), as hf-hub lays it out.
fn fake_hub(name: &str, train: &[u8]) -> Scratch {
    let home = Scratch::new(&format!("cli-hub-{name}"));
    let repo = home.join("hub/datasets--zalando-datasets--fashion_mnist");
    let snap = repo.join("snapshots/0000000000000000000000000000000000000000/fashion_mnist");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0000000000000000000000000000000000000000").unwrap();
    std::fs::write(snap.join("train-00000-of-00001.parquet"), train).unwrap();
    let real = shared("hf/hub/datasets--zalando-datasets--fashion_mnist");
    let test = std::fs::read_dir(real.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path().join("fashion_mnist/test-00000-of-00001.parquet"))
        .find(|p| p.is_file())
        .unwrap();
    std::fs::copy(test, snap.join("test-00000-of-00001.parquet")).unwrap();
    home
}

#[test]
fn corrupt_data_through_the_cli_is_an_error_naming_file_and_fix() {
    let corpus = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let good = std::fs::read(corpus.join("parquet/test-3-rows.parquet")).unwrap();
    let png = std::fs::read(corpus.join("png/test-0.png")).unwrap();
    // Parquet: not parquet, truncated, and the hub file with one PNG broken in place.
    let mut broken_png = good.clone();
    let at = good.windows(png.len()).position(|w| w == png).expect("the PNG sits in the parquet file uncompressed");
    broken_png[at + 20..at + 40].fill(0xff);
    for (name, bytes, needle) in [
        ("notparquet", b"not parquet at all".to_vec(), "is not a readable parquet file"),
        ("truncated", good[..good.len() / 2].to_vec(), "is not a readable parquet file"),
        ("badpng", broken_png, "row 0: the image cannot be decoded as PNG"),
    ] {
        let home = fake_hub(name, &bytes);
        let o = lab_env(&["data", "info"], &[("HF_HOME", home.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")]);
        let e = stderr(&o);
        assert!(!o.status.success(), "{name}: succeeded");
        assert!(e.contains(needle) && e.contains("train-00000-of-00001.parquet") && !e.contains("panicked"), "{name}: {e}");
        let _ = std::fs::remove_dir_all(home);
    }
    // IDX: the four real files, then one of them replaced by a bad version.
    let real = shared("fashion-mnist");
    let labels = std::fs::read(real.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let raw_header_only = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &[0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28]).unwrap();
        e.finish().unwrap()
    };
    for (name, file, bytes, needle) in [
        ("truncated-gzip", "t10k-labels-idx1-ubyte.gz", labels[..labels.len() / 2].to_vec(), "not a complete gzip file"),
        ("wrong-magic", "t10k-images-idx3-ubyte.gz", labels.clone(), "bad IDX magic"),
        ("short", "t10k-images-idx3-ubyte.gz", raw_header_only, "the header says [9, 28, 28]"),
    ] {
        let dir = Scratch::new(&format!("cli-idx-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            std::fs::copy(real.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join(file), bytes).unwrap();
        let o = lab_env(&["data", "info", "--data-dir", dir.to_str().unwrap()], &[]);
        let e = stderr(&o);
        assert!(!o.status.success() && e.contains(needle) && e.contains(file) && !e.contains("panicked"), "{name}: {e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn bad_training_configuration_through_the_cli() {
    for (args, needle) in [
        // The library names the setting; the binary adds the flag that sets it.
        (vec!["--batch-size", "0"], "batch size must be at least 1 (e.g. 128) (set with --batch-size)"),
        (vec!["--image-size", "64"], "smallest it takes is 65x65"),
        (vec!["--image-size", "100000"], "at most 4096x4096"),
        (vec!["--lr", "-0.1"], "learning rate must be a positive number, got -0.1 (e.g. 0.01) (set with --lr)"),
        (vec!["--lr", "NaN"], "learning rate must be a positive number"),
        (vec!["--epochs", "0"], "epochs must be at least 1 (e.g. 10) (set with --epochs)"),
        (vec!["--warmup-epochs", "5"], "warm-up must last from 0 to fewer than the 2 epochs, got 5 (e.g. 0.5) (set with --warmup-epochs)"),
        (vec!["--test-limit", "0"], "the limit on test examples must be at least 1 (set with --test-limit)"),
        (vec!["--device", "cuda:7"], CPU_BUILD_CUDA),
    ] {
        let mut all = vec!["train", "--profile", "smoke", "--out", "/nonexistent/never-written"];
        all.extend(&args);
        let o = lab(&all);
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(e.contains(needle) && !e.contains("panicked"), "{args:?}: {e}");
    }
    let o = lab(&["memory", "--budget", "lots"]);
    assert!(!o.status.success() && stderr(&o).contains("is not a size like 6G"), "{}", stderr(&o));
}

#[test]
fn memory_sweep_from_the_terminal_stops_at_the_budget() {
    let o = lab(&["memory", "--model", "lenet", "--image-size", "28", "--batch-sizes", "16,64,100000000", "--budget", "256M", "--steps", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("memory budget 0.25 GiB"), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[0].ends_with("ok") && rows[1].ends_with("ok"), "{out}");
    assert!(rows[2].contains("refused before running batch size 100000000 on cpu") && rows[2].contains("> memory budget"), "{out}");
}

/// `predict` on a folder of mixed photos with one broken file: every good one is classified,
/// the broken one is named, the exit code says something failed; CSV and JSON carry the top-k.
#[test]
fn predict_a_folder_of_mixed_photos() {
    use image::{ExtendedColorType, ImageEncoder};
    let dir = Scratch::new("cli-photos");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("photos/more")).unwrap();
    // A checkpoint of an untrained AlexNet at 67x67: the plumbing, not the classes, is tested.
    let (_net, varmap) = alexnet_lab::ModelKind::AlexNet.init(Some([1, 67, 67]), 0, &alexnet_lab::candle::Device::Cpu).unwrap();
    let meta = alexnet_lab::train::checkpoint::CheckpointMeta::new(
        alexnet_lab::train::TrainConfig::smoke(),
        Default::default(),
        alexnet_lab::data::CLASS_NAMES.map(String::from).to_vec(),
        false,
    );
    let run = dir.join("run");
    alexnet_lab::train::checkpoint::save(&run, &varmap, &Default::default(), &meta).unwrap();
    let img = image::RgbImage::from_fn(60, 30, |x, y| image::Rgb([(x * 4) as u8, (y * 8) as u8, 128]));
    let mut jpg = vec![];
    image::codecs::jpeg::JpegEncoder::new(&mut jpg).write_image(img.as_raw(), 60, 30, ExtendedColorType::Rgb8).unwrap();
    let mut webp = vec![];
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp).write_image(img.as_raw(), 60, 30, ExtendedColorType::Rgb8).unwrap();
    let mut png = vec![];
    image::codecs::png::PngEncoder::new(&mut png).write_image(img.as_raw(), 60, 30, ExtendedColorType::Rgb8).unwrap();
    std::fs::write(dir.join("photos/wide.jpg"), &jpg).unwrap();
    std::fs::write(dir.join("photos/more/wide.webp"), &webp).unwrap();
    std::fs::write(dir.join("photos/wide.png"), &png).unwrap();
    std::fs::write(dir.join("photos/broken.jpg"), &jpg[..40]).unwrap();
    std::fs::write(dir.join("photos/notes.txt"), "skipped: not an image name").unwrap();
    let photos = dir.join("photos");
    let (run, photos) = (run.to_str().unwrap(), photos.to_str().unwrap());

    let o = lab_env(&["predict", "--checkpoint", run, photos], &[]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("more/wide.webp: ") && lines[1].contains("wide.jpg: ") && lines[2].contains("wide.png: "), "{out}");
    assert_eq!(lines[0].matches('%').count(), 3, "top 3 by default: {out}");
    assert!(err.contains("broken.jpg is truncated") && err.contains("1 of 4 inputs could not be classified"), "{err}");
    assert!(!err.contains("notes.txt") && !err.contains("panicked"), "{err}");

    let o = lab_env(&["predict", "--checkpoint", run, "--format", "csv", "--top-k", "2", photos], &[]);
    let out = stdout(&o);
    let csv: Vec<&str> = out.lines().collect();
    assert_eq!(csv[0], "file,rank,label,class,probability", "{out}");
    assert_eq!(csv.len(), 1 + 3 * 2, "{out}");
    assert!(csv[1].contains("wide.webp,1,") && csv[2].contains("wide.webp,2,") && csv[3].contains("wide.jpg,1,"), "{out}");

    let o = lab_env(&["predict", "--checkpoint", run, "--format", "json", "--top-k", "10", photos], &[]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recs = j.as_array().unwrap();
    assert_eq!(recs.len(), 4);
    for r in &recs[..3] {
        let p: f64 = r["top"].as_array().unwrap().iter().map(|g| g["probability"].as_f64().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-4, "{r}");
    }
    assert!(recs[3]["file"].as_str().unwrap().ends_with("broken.jpg") && recs[3]["error"].is_string());

    // Only good files: exit 0, and the pipelines picture is written.
    let pic = dir.join("pipelines.png");
    let good = dir.join("photos/wide.png");
    let o = lab_env(&["predict", "--checkpoint", run, "--show-pipelines", pic.to_str().unwrap(), good.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let grid = image::open(&pic).unwrap();
    // One row: the 60x30 photo shown at 1.5x the input size (101x50), then three 67x67 inputs,
    // on a grey canvas with 6-pixel gaps.
    assert_eq!((grid.width(), grid.height()), (4 * (101 + 6) + 6, 67 + 12));
    let g = grid.to_luma8();
    assert_eq!(g.get_pixel(0, 0).0[0], 128);
    let o = lab_env(&["predict", "--checkpoint", run, "--top-k", "11", good.to_str().unwrap()], &[]);
    assert!(!o.status.success() && stderr(&o).contains("--top-k must be between 1 and 10"), "{}", stderr(&o));
}

/// `predict` with d2l's trained LeNet (`data/fixtures/lenet-d2l`, test accuracy 0.804) on real
/// test images saved as a photo would be: a trouser as PNG, a pullover as a JPEG stored sideways
/// with an EXIF orientation that turns it upright. Both are classified right, with the same
/// probabilities `eval`'s path gives the original images (within JPEG's loss).
#[test]
fn predict_classifies_real_test_images_with_the_trained_lenet() {
    use image::{ExtendedColorType, ImageEncoder};
    let test = alexnet_lab::data::FashionMnist::load_test(&alexnet_lab::data::Source::IdxDir(shared("fashion-mnist"))).unwrap();
    assert_eq!((test.labels()[1], test.labels()[2]), (2, 1), "test images 1 and 2 are a pullover and a trouser");
    let dir = Scratch::new("cli-lenet");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gray = |i: usize| image::GrayImage::from_raw(28, 28, test.image(i).unwrap().to_vec()).unwrap();
    gray(2).save(dir.join("trouser.png")).unwrap();
    // Stored turned 90 degrees counter-clockwise; orientation 6 tells viewers to turn it back.
    let sideways = image::imageops::rotate270(&gray(1));
    let exif = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut jpg = vec![];
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 95);
    enc.set_exif_metadata(exif).unwrap();
    enc.write_image(sideways.as_raw(), 28, 28, ExtendedColorType::L8).unwrap();
    std::fs::write(dir.join("pullover-phone.jpg"), jpg).unwrap();

    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/lenet-d2l");
    let o = lab_env(&["predict", "--checkpoint", fixture.to_str().unwrap(), "--top-k", "1", "--format", "json", dir.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top: Vec<(String, String, f64)> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let f = std::path::Path::new(r["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (f, r["top"][0]["class"].as_str().unwrap().to_string(), r["top"][0]["probability"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(top[0].0, "pullover-phone.jpg");
    assert_eq!((top[0].1.as_str(), top[1].1.as_str()), ("pullover", "trouser"), "{top:?}");
    // The evaluation path on the originals: same classes, about the same confidence.
    let (net, _, _) = alexnet_lab::train::checkpoint::load_model(&fixture, &alexnet_lab::candle::Device::Cpu).unwrap();
    for (i, (_, _, p)) in [(1usize, &top[0]), (2, &top[1])] {
        let x = alexnet_lab::data::transforms::Pipeline::resize(28).example_tensor(test.image(i).unwrap(), &alexnet_lab::candle::Device::Cpu).unwrap();
        let probs = alexnet_lab::candle_nn::ops::softmax(&net.forward(&x, false).unwrap(), 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let q = probs[test.labels()[i] as usize] as f64;
        assert!((q - p).abs() < 0.05, "image {i}: predict {p:.3}, eval path {q:.3}");
    }
}

#[test]
fn profiles_lists_every_recipe_and_prints_one_as_json() {
    let o = lab(&["profiles"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for name in ["d2l", "cpu", "cpu-full", "quick", "smoke", "lenet"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("profile {name}:"))), "{name} missing:\n{out}");
    }
    let o = lab(&["profiles", "cpu-full", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["profile"], "cpu-full");
    assert_eq!((v["image_size"].as_u64(), v["epochs"].as_u64(), v["schedule"].as_str()), (Some(80), Some(4), Some("cosine")));
    assert_eq!(v["limit"], serde_json::Value::Null, "the lecture's accuracy is on all the data");
    let o = lab(&["profiles", "fast"]);
    assert!(!o.status.success() && stderr(&o).contains("cpu-full"), "{}", stderr(&o));
}

#[test]
fn a_diverging_run_fails_and_commits_nothing() {
    // The audit's case: `train --profile smoke --lr 1e8` exited 0 with a finite loss of 2.3e8
    // and committed weights full of NaN. Now the loss, far above chance (ln 10), stops it at the
    // step where it happens, with exit 1 and a learning rate to try.
    let hf = shared("hf");
    let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")];
    let dir = Scratch::new("cli-diverge");
    let run = dir.to_str().unwrap();
    let o = lab_env(&["train", "--profile", "smoke", "--lr", "1e8", "--out", run], &env);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("training diverged: the loss became") && e.contains("at epoch 1, step ") && e.contains("try a learning rate of 1e7") && e.contains("(set with --lr)"), "{e}");
    assert!(!dir.join("checkpoint.json").exists(), "nothing committed");
}

#[test]
fn a_run_logged_to_a_file_shows_its_steps() {
    // With stderr not a terminal indicatif hides its bar; the step lines take its place (a run
    // in a job log or under nohup printed nothing for a whole epoch).
    let hf = shared("hf");
    let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")];
    let dir = Scratch::new("cli-log");
    let run = dir.to_str().unwrap();
    let o = lab_env(&["train", "--profile", "smoke", "--epochs", "1", "--limit", "160", "--test-limit", "32", "--out", run], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let steps: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("epoch 1/1 step ")).collect();
    assert_eq!(steps.len(), 4, "a line at each fifth of the epoch but the last:\n{out}");
    assert!(steps.iter().all(|l| l.ends_with(" of training left")), "{out}");
}

#[test]
fn the_same_thread_count_gives_the_same_weights_file() {
    // What is reproducible, exactly: the same seed, configuration and number of threads give the
    // same weights, byte for byte. Another thread count sums the convolution's weight gradient in
    // another order (one share of the batch per thread), so its weights differ in the last bits.
    let hf = shared("hf");
    let weights = |threads: &str, name: &str| {
        let dir = Scratch::new(name);
        let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1"), ("RAYON_NUM_THREADS", threads)];
        let o = lab_env(&["train", "--profile", "smoke", "--epochs", "1", "--limit", "256", "--test-limit", "32", "--seed", "3", "--out", dir.to_str().unwrap()], &env);
        assert!(o.status.success(), "{}", stderr(&o));
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("checkpoint.json")).unwrap()).unwrap();
        std::fs::read(dir.join(meta["weights"].as_str().unwrap())).unwrap()
    };
    let one = weights("1", "threads-1a");
    assert!(one == weights("1", "threads-1b"), "1 thread twice: different weights");
    let two = weights("2", "threads-2a");
    assert!(two == weights("2", "threads-2b"), "2 threads twice: different weights");
    assert!(one != two, "1 and 2 threads gave the same weights: the README's caveat is out of date, say so there");
}

/// Runs the binary under `ulimit -v` (KiB), so that an allocation it should have refused aborts
/// it (SIGABRT) instead of reaching the machine's memory.
fn lab_limited(args: &[&str], env: &[(&str, &str)], kib: u64) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\"")).arg(env!("CARGO_BIN_EXE_alexnet-lab")).args(args);
    c.env_remove("HF_HOME").env_remove("HF_HUB_OFFLINE");
    for (k, v) in env {
        c.env(k, v);
    }
    no_panic(c.output().expect("run alexnet-lab under ulimit"), args)
}

#[test]
fn sizes_too_big_for_the_machine_are_refused_before_anything_is_allocated() {
    // 4096x4096 gives AlexNet a first dense layer of 16.6 G parameters (62 GiB in f32): `shapes`
    // and `complexity` need no weights and answer; training is refused by the memory it needs.
    // Under a 6 GiB address-space limit an attempt to build it aborts instead (exit 134).
    for args in [["shapes", "--input", "1x4096x4096"], ["complexity", "--input", "1x4096x4096"]] {
        let o = lab_limited(&args, &[], 6 << 20);
        assert!(o.status.success(), "{args:?}: {:?} {}", o.status, stderr(&o));
    }
    let o = lab_limited(&["shapes", "--input", "1x4096x4096"], &[], 6 << 20);
    assert!(stdout(&o).lines().nth(14) == Some("Linear output shape: [1, 4096]") && stdout(&o).contains("[1, 256, 126, 126]"), "{}", stdout(&o));
    let hf = shared("hf");
    let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")];
    let dir = Scratch::new("cli-huge");
    let o = lab_limited(&["train", "--profile", "smoke", "--image-size", "4096", "--out", dir.to_str().unwrap()], &env, 6 << 20);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("AlexNet for a [1, 4096, 4096] input has 16667742922 parameters: 62.09 GiB in f32") && e.contains("use a smaller image size"), "{e}");
}

#[test]
fn a_gzip_bomb_or_a_huge_idx_header_is_refused_without_inflating_it() {
    use std::io::Write;
    let idx = shared("fashion-mnist");
    let dir = Scratch::new("cli-bomb");
    for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        std::fs::copy(idx.join(f), dir.join(f)).unwrap();
    }
    let gz = |payload: &mut dyn FnMut(&mut flate2::write::GzEncoder<Vec<u8>>)| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        payload(&mut e);
        e.finish().unwrap()
    };
    // The label file of the test split: a correct header (10,000 labels), then 8 GiB of zeros in
    // 8 MB of gzip. Inflated whole, it aborts the process under the 6 GiB limit.
    let bomb = gz(&mut |e| {
        e.write_all(&[0, 0, 8, 1, 0, 0, 0x27, 0x10]).unwrap();
        let zeros = vec![0u8; 1 << 24];
        for _ in 0..512 {
            e.write_all(&zeros).unwrap();
        }
    });
    let labels = dir.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&labels, &bomb).unwrap();
    let args = ["data", "info", "--data-dir", dir.to_str().unwrap()];
    let o = lab_limited(&args, &[], 6 << 20);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{:?}: {e}", o.status);
    assert!(e.contains("t10k-labels-idx1-ubyte.gz: decompresses to more than 10008 bytes"), "{e}");
    // A header announcing 4 G x 28 x 28 images is refused before anything is read after it.
    std::fs::write(&labels, gz(&mut |e| e.write_all(&[0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff]).unwrap())).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gz(&mut |e| e.write_all(&[0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28]).unwrap())).unwrap();
    let o = lab_limited(&args, &[], 6 << 20);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{:?}: {e}", o.status);
    assert!(e.contains("t10k-images-idx3-ubyte.gz: its IDX header announces more than 1073741824 bytes"), "{e}");
}

/// Runs the binary, killing it after `secs` (a hang fails the test instead of stalling it).
fn lab_within(args: &[&str], env: &[(&str, &str)], secs: u64) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
    c.args(args).env_remove("HF_HOME").env_remove("HF_HUB_OFFLINE").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run alexnet-lab");
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > std::time::Duration::from_secs(secs) {
            child.kill().ok();
            panic!("{args:?} still running after {secs} s (hangs)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    no_panic(child.wait_with_output().unwrap(), args)
}

#[test]
fn damaged_or_strange_checkpoint_files_are_refused_naming_them() {
    let hf = shared("hf");
    let env = [("HF_HOME", hf.to_str().unwrap()), ("HF_HUB_OFFLINE", "1")];
    let dir = Scratch::new("cli-ckpt-faults");
    let run = dir.to_str().unwrap();
    let o = lab_env(&["train", "--profile", "smoke", "--epochs", "1", "--limit", "64", "--test-limit", "32", "--out", run, "--quiet"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta_path = dir.join("checkpoint.json");
    let meta_text = std::fs::read_to_string(&meta_path).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&meta_text).unwrap();
    assert_eq!(meta["lab_version"], env!("CARGO_PKG_VERSION"), "the checkpoint records the lab's version");
    let weights = dir.join(meta["weights"].as_str().unwrap());
    let good = std::fs::read(&weights).unwrap();
    let eval = || lab_within(&["eval", "--checkpoint", run, "--limit", "32"], &env, 60);
    assert!(eval().status.success());

    // One flipped byte in the tensors: the recorded SHA-256 refuses it, naming the file.
    let mut bad = good.clone();
    let at = bad.len() - 100;
    bad[at] ^= 0x40;
    std::fs::write(&weights, &bad).unwrap();
    let o = eval();
    assert!(!o.status.success() && stderr(&o).contains(weights.file_name().unwrap().to_str().unwrap()) && stderr(&o).contains("does not match checkpoint.json: its SHA-256"), "{}", stderr(&o));
    // Longer than the size checkpoint.json records: refused before it is read (the read is
    // bounded by that size).
    std::fs::write(&weights, [&good[..], &[0u8; 4096][..]].concat()).unwrap();
    let o = eval();
    let recorded = format!("more than the {} expected of the {}-byte safetensors file its checkpoint.json records", good.len(), good.len());
    assert!(!o.status.success() && stderr(&o).contains(&recorded), "{}", stderr(&o));
    std::fs::write(&weights, &good).unwrap();

    // A FIFO, or a symlink to /dev/zero, in place of the weights: refused at once (a FIFO hung
    // `eval` until it was killed).
    std::fs::remove_file(&weights).unwrap();
    let fifo = std::ffi::CString::new(weights.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let o = eval();
    assert!(!o.status.success() && stderr(&o).contains("is not a regular file (a FIFO, a socket or a device)"), "{}", stderr(&o));
    std::fs::remove_file(&weights).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &weights).unwrap();
    let o = eval();
    assert!(!o.status.success() && stderr(&o).contains("is not a regular file"), "{}", stderr(&o));
    std::fs::remove_file(&weights).unwrap();
    std::fs::write(&weights, &good).unwrap();

    // A weights name that leaves the run folder, and a newer format.
    for (from, to, says) in [
        (meta["weights"].as_str().unwrap().to_string(), "../x".to_string(), "checkpoint file name `../x` is not a plain file name inside the run folder"),
        (meta["weights"].as_str().unwrap().to_string(), "/etc/passwd".to_string(), "checkpoint file name `/etc/passwd` is not a plain file name"),
        ("\"format\": 2".to_string(), "\"format\": 3".to_string(), "has checkpoint format 3 (written by alexnet_lab 0.1.0), this alexnet_lab 0.1.0 reads formats up to 2: update alexnet_lab"),
    ] {
        std::fs::write(&meta_path, meta_text.replacen(&from, &to, 1)).unwrap();
        let o = eval();
        assert!(!o.status.success() && stderr(&o).contains(says), "{to}: {}", stderr(&o));
    }
    std::fs::write(&meta_path, &meta_text).unwrap();
    assert!(eval().status.success());

    // A FIFO among the photos `predict` is given: an error for it, the others classified.
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let img = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/resize/test0_96.png");
    std::fs::copy(&img, photos.join("a.png")).unwrap();
    let fifo = std::ffi::CString::new(photos.join("b.png").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // And a JPEG cut short (an interrupted download): an error naming it, not a guess from grey filler.
    let mut jpeg = vec![];
    image::open(&img).unwrap().write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    std::fs::write(photos.join("c.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    let c = photos.join("c.jpg");
    let o = lab_within(&["predict", "--checkpoint", run, photos.join("a.png").to_str().unwrap(), photos.join("b.png").to_str().unwrap(), c.to_str().unwrap()], &env, 60);
    assert!(!o.status.success() && stdout(&o).contains("a.png: ") && stderr(&o).contains("b.png is not a regular file"), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("c.jpg is truncated") && !stdout(&o).contains("c.jpg"), "{}\n{}", stdout(&o), stderr(&o));
}

/// The kernel switch is read by the binary, once: a value it does not know is an error naming
/// the variable and the values it takes (before: anything but `candle` meant the lab's kernels).
#[test]
fn an_unknown_kernel_choice_in_the_environment_is_an_error() {
    let o = no_panic(Command::new(env!("CARGO_BIN_EXE_alexnet-lab")).arg("shapes").env("ALEXNET_LAB_KERNELS", "fast").output().unwrap(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("ALEXNET_LAB_KERNELS=fast") && stderr(&o).contains("use one of lab, direct, candle, winograd"), "{}", stderr(&o));
}

/// The memory budget from the environment is the binary's to read: `alexnet-lab memory` takes
/// ALEXNET_LAB_MEMORY_BUDGET (a bad value is an error naming it); the library's default budget
/// does not look at it.
#[test]
fn the_memory_budget_variable_is_read_by_the_binary() {
    let run = |v: &str| {
        no_panic(
            Command::new(env!("CARGO_BIN_EXE_alexnet-lab"))
                .args(["memory", "--model", "lenet", "--image-size", "28", "--batch-sizes", "8", "--steps", "1"])
                .env("ALEXNET_LAB_MEMORY_BUDGET", v)
                .output()
                .unwrap(),
            &[],
        )
    };
    let o = run("1G");
    assert!(o.status.success() && stdout(&o).contains("memory budget 1.00 GiB"), "{}{}", stdout(&o), stderr(&o));
    let o = run("lots");
    assert!(!o.status.success() && stderr(&o).contains("ALEXNET_LAB_MEMORY_BUDGET=lots"), "{}", stderr(&o));
}

/// `alexnet-lab exercises`: notebook 07's recorded runs by name; a wrong name lists the right ones
/// and trains nothing.
#[test]
fn exercises_lists_the_recorded_runs_and_refuses_an_unknown_name() {
    let o = lab(&["exercises", "--list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let want: Vec<String> = alexnet_lab::lecture::exercises::recorded().into_iter().map(|e| e.name).collect();
    assert_eq!(names, want, "{out}");
    assert!(out.contains("vgg-28-cpu-full") && out.contains("profile cpu-full: Vgg28 28x28, 4 epochs"), "{out}");
    let o = lab(&["exercises", "vgg-28-cpu-full", "no-such-run", "--out", "/nonexistent/never-written"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no experiment named no-such-run: the experiments are lenet-30-epochs,"), "{err}");
}

/// `gpu-check` without a GPU says what it needs instead of comparing the CPU with itself.
#[test]
fn gpu_check_without_a_gpu_says_what_it_needs() {
    let o = lab(&["gpu-check", "--device", "cpu"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("gpu-check compares a GPU's ops with the CPU's") && e.contains("--device cuda:0"), "{e}");
    assert!(e.contains("built without the `cuda` feature"), "{e}");
}

/// `ALEXNET_LAB_KERNELS` reaches the commands that train or time a network; the others refuse it
/// rather than ignore it, and an unknown value lists the known ones.
#[test]
fn the_kernels_variable_is_taken_or_refused_never_ignored() {
    let o = lab_env(&["bench", "--model", "lenet", "--image-size", "28", "--batch-size", "8", "--repeats", "1"], &[("ALEXNET_LAB_KERNELS", "candle")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lab_env(&["eval", "--checkpoint", "data/fixtures/lenet-d2l"], &[("ALEXNET_LAB_KERNELS", "candle")]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("ALEXNET_LAB_KERNELS=candle applies to train, bench and exercises"), "{e}");
    let o = lab_env(&["shapes"], &[("ALEXNET_LAB_KERNELS", "fast")]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("unknown kernel implementation 'fast': use one of lab, direct, candle, winograd"), "{e}");
}

/// Output into a pipe that was closed (`alexnet-lab complexity | head -1`) ends the command
/// quietly, as for other Unix tools: no panic from `println!`.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"))
        .args(["complexity", "--compare-lecture"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run alexnet-lab");
    drop(child.stdout.take()); // the reader is gone before the first line
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked") && !e.contains("Broken pipe"), "{e}");
    assert_eq!(o.status.signal(), Some(libc::SIGPIPE), "{:?}", o.status);
}
