//! A learner's own images: class folders as a `Dataset`, trained, evaluated and classified from
//! the library and the CLI; bad folders refused with every problem file named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use alexnet_lab::candle::Device;
use alexnet_lab::data::{DataLoader, Dataset, ImageFolder, LoaderConfig, Pipeline, Source};
use alexnet_lab::train::{self, EvalOptions, TrainConfig, Trainer};
use alexnet_lab::ModelKind;

const CLASSES: [&str; 3] = ["blue", "green", "red"];

/// The crate's demo folder (colour noise per class) at `dir`.
fn write_photos(dir: &Path, classes: &[&str], per_class: usize) {
    alexnet_lab::data::folder::write_colour_folder(dir, classes, per_class).unwrap();
}

fn lab(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_alexnet-lab")).args(args).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains("panicked"), "{args:?} panicked:\n{all}");
    o
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_folder_is_classes_in_turn_with_every_fifth_image_held_out() {
    let tmp = common::tmpdir("folder-splits");
    write_photos(&tmp, &CLASSES, 10);
    let (train, test) = ImageFolder::splits(&tmp, None).unwrap();
    assert_eq!(train.class_names(), CLASSES);
    assert_eq!((train.len(), test.len()), (24, 6));
    assert_eq!((train.class_counts().unwrap(), test.class_counts().unwrap()), (vec![8, 8, 8], vec![2, 2, 2]));
    // Colour photos: 3 channels unless asked otherwise.
    assert_eq!((train.channels(), test.channels()), (3, 3));
    // Held out: the 5th and 10th file of each class, in name order; classes in turn.
    let names: Vec<String> = test.files().iter().map(|f| f.strip_prefix(&*tmp).unwrap().display().to_string()).collect();
    assert_eq!(names, ["blue/04.jpg", "green/04.jpg", "red/04.jpg", "blue/09.png", "green/09.png", "red/09.png"]);
    assert_eq!((0..6).map(|i| test.label(i).unwrap()).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
    assert!(train.files().iter().all(|f| !test.files().contains(f)));
    // The folder is told apart from Fashion-MNIST's IDX folder.
    assert_eq!(Source::from_dir(tmp.to_path_buf()), Source::ImageFolder(tmp.to_path_buf()));
    assert_eq!(Source::from_dir(common::idx_dir()), Source::IdxDir(common::idx_dir()));
    // train/ and test/ sub-folders are used as they are.
    let two = common::tmpdir("folder-train-test");
    write_photos(&two.join("train"), &CLASSES, 4);
    write_photos(&two.join("test"), &CLASSES, 2);
    let (train, test) = ImageFolder::splits(&two, Some(1)).unwrap();
    assert_eq!((train.len(), test.len(), train.channels()), (12, 6, 1));
}

#[test]
fn batches_of_photos_of_any_size_have_the_datasets_channels() {
    let tmp = common::tmpdir("folder-batches");
    write_photos(&tmp, &CLASSES, 5);
    for (channels, expect_red_first) in [(3, true), (1, false)] {
        let data = Arc::new(ImageFolder::open(&tmp).unwrap().with_channels(channels).unwrap());
        let loader = DataLoader::new(data, LoaderConfig::in_order(4, Pipeline::resize(32))).unwrap();
        let b = loader.epoch(0, &Device::Cpu).next().unwrap().unwrap();
        assert_eq!(b.images.dims(), [4, channels, 32, 32]);
        assert_eq!(b.labels.to_vec1::<u32>().unwrap(), [0, 1, 2, 0]);
        if expect_red_first {
            // Example 2 is a red photo: its first plane (R) is the brightest.
            let planes: Vec<f32> =
                (0..3).map(|c| b.images.get(2).unwrap().get(c).unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap()).collect();
            assert!(planes[0] > planes[1] + 0.3 && planes[0] > planes[2] + 0.3, "{planes:?}");
        }
    }
}

#[test]
fn a_folder_trains_and_its_checkpoint_knows_its_classes() {
    let tmp = common::tmpdir("folder-train");
    write_photos(&tmp.join("photos"), &CLASSES, 10);
    // d2l's sigmoid LeNet is slow to start: at lr 0.05 with momentum 0.9, 60 epochs of 3 steps
    // reached test acc 1.000 from each of seeds 0-6 (measured), 40 epochs from 4 of 5.
    let config = TrainConfig { epochs: 60, batch_size: 8, lr: 0.05, limit: None, test_limit: None, ..TrainConfig::smoke() }
        .with_model(ModelKind::LeNet);
    let out = tmp.join("run");
    let trainer = Trainer { source: Source::ImageFolder(tmp.join("photos")), ..Trainer::new(config).into_folder(&out) };
    let summary = trainer.run().unwrap();
    let last = summary.history.epochs.last().unwrap();
    // Three colours, told apart by any net that learns: above chance (1/3) on the 6 held out.
    assert!(last.test_acc > 0.5, "{:?}", summary.history.epochs);
    let (_, meta) = train::checkpoint::read_meta(&out).unwrap();
    assert_eq!(meta.class_names(), CLASSES);
    assert_eq!(meta.input(), [3, 28, 28]);
    assert_eq!(meta.config.num_classes, Some(3));
    let ev = train::evaluate_checkpoint(&out, &EvalOptions { batch_size: 16, ..EvalOptions::new(trainer.source.clone()) }).unwrap();
    assert_eq!(ev.evaluation.examples, 6);
    assert_eq!(ev.evaluation.classes, CLASSES);
    assert_eq!(ev.evaluation.confusion().counts.len(), 3);
    assert!((ev.evaluation.accuracy - last.test_acc).abs() < 1e-9, "{} vs {}", ev.evaluation.accuracy, last.test_acc);
    // Another folder's classes are refused, not evaluated under the wrong names.
    write_photos(&tmp.join("other"), &["cat", "dog", "fox"], 5);
    let e = train::evaluate_checkpoint(&out, &EvalOptions { batch_size: 16, ..EvalOptions::new(Source::ImageFolder(tmp.join("other"))) })
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"cat\"") && e.contains("\"blue\""), "{e}");
}

#[test]
fn the_cli_trains_evaluates_and_predicts_on_a_folder() {
    let tmp = common::tmpdir("folder-cli");
    let photos = tmp.join("photos");
    write_photos(&photos, &CLASSES, 10);
    let (p, run) = (photos.to_str().unwrap(), tmp.join("run"));
    let o = lab(&["data", "info", "--data-dir", p]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("3 classes, 24 images, RGB") && out.contains("green"), "{out}");
    let o = lab(&["train", "--model", "lenet", "--epochs", "2", "--batch-size", "8", "--lr", "0.05", "--data-dir", p, "--out", run.to_str().unwrap(), "--quiet"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("the image folder") && out.contains("24 train / 6 test examples"), "{out}");
    let o = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--data-dir", p]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("(6 examples") && out.contains("red") && !out.contains("t-shirt"), "{out}");
    let o = lab(&["predict", "--checkpoint", run.to_str().unwrap(), "--top-k", "3", photos.join("red").to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.lines().count(), 10, "{out}");
    assert!(out.lines().all(|l| CLASSES.iter().all(|c| l.contains(c))) && !out.contains("t-shirt"), "{out}");
    let o = lab(&["predict", "--checkpoint", run.to_str().unwrap(), "--top-k", "4", p]);
    assert!(!o.status.success() && text(&o).1.contains("between 1 and 3"), "{:?}", text(&o));
    // Fashion-MNIST is grey.
    let o = lab(&["data", "info", "--channels", "3", "--data-dir", common::idx_dir().to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).1.contains("Fashion-MNIST is grey"), "{:?}", text(&o));
}

fn refused(dir: &Path) -> String {
    ImageFolder::splits(dir, None).unwrap_err().to_string()
}

#[test]
fn bad_folders_are_refused_naming_every_problem() {
    let tmp = common::tmpdir("folder-bad");
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(refused(&empty).contains("holds no class folder"), "{}", refused(&empty));
    let one = tmp.join("one");
    write_photos(&one, &["cat"], 5);
    assert!(refused(&one).contains("one class folder (cat)") && refused(&one).contains("at least 2 classes"), "{}", refused(&one));
    let few = tmp.join("few");
    write_photos(&few, &["cat", "dog"], 3);
    assert!(refused(&few).contains("class `cat`") && refused(&few).contains("has 3 images"), "{}", refused(&few));
    // Unreadable files are each named, none dropped in silence.
    let bad = tmp.join("bad");
    write_photos(&bad, &CLASSES, 5);
    let jpeg = std::fs::read(bad.join("red/00.jpg")).unwrap();
    std::fs::write(bad.join("red/cut.jpg"), &jpeg[..20]).unwrap();
    std::fs::write(bad.join("green/notes.png"), b"not a picture").unwrap();
    std::fs::write(bad.join("blue/anim.gif"), b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    std::fs::copy(bad.join("red/01.png"), bad.join("loose.png")).unwrap();
    // Files whose header reads but whose data is cut short (an interrupted copy): the header
    // check alone let them through, and the decoder would have trained on grey filler.
    std::fs::write(bad.join("blue/half.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    let png = std::fs::read(bad.join("green/01.png")).unwrap();
    std::fs::write(bad.join("green/short.png"), &png[..png.len() - 1]).unwrap();
    let e = refused(&bad);
    for name in ["red/cut.jpg", "green/notes.png", "blue/anim.gif", "loose.png", "blue/half.jpg is truncated", "green/short.png is truncated", "6 problems"] {
        assert!(e.contains(name), "{name} not in: {e}");
    }
    // Mixed sizes are fine (the pipeline makes every image square); train/ and test/ must agree.
    let split = tmp.join("split");
    write_photos(&split.join("train"), &CLASSES, 2);
    write_photos(&split.join("test"), &["blue", "red"], 2);
    let e = refused(&split);
    assert!(e.contains("\"green\"") && e.contains("the same class folders"), "{e}");
    // Through the CLI: exit 1 with the message, nothing written.
    let out: PathBuf = tmp.join("run");
    let o = lab(&["train", "--model", "lenet", "--epochs", "1", "--data-dir", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("red/cut.jpg"), "{:?}", text(&o));
    assert!(!out.join("checkpoint.json").exists());
}
