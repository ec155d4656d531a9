//! End-to-end tests of the `alexnet-lab` binary.

use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alexnet-lab")).args(args).output().expect("run alexnet-lab")
}

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
