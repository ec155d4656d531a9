//! The committed notebooks: the seven of the lecture are there, in order, each starts by
//! importing the crate with `:dep`, and each was executed for real: every code cell has run,
//! none has an error output, a panic or stderr text, and the plots are in the outputs (browsable on the
//! repository's web page). Executing them is `notebooks/run_all.sh` (part of `tests/run.sh`).

mod common;

use common::workspace;

fn notebooks() -> Vec<std::path::PathBuf> {
    let mut v = vec![];
    for dir in ["notebooks", "tests/notebooks"] {
        for e in std::fs::read_dir(workspace().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "ipynb") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => String::new(),
    }
}

#[test]
fn the_lecture_notebooks_are_there_in_order() {
    let names: Vec<String> = notebooks()
        .iter()
        .filter(|p| p.parent().unwrap().ends_with("notebooks") && !p.to_string_lossy().contains("tests/"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let numbers: Vec<&str> = names.iter().map(|n| &n[..2]).collect();
    assert_eq!(numbers, ["01", "02", "03", "04", "05", "06", "07"], "{names:?}");
}

#[test]
fn committed_notebooks_were_executed_without_errors_and_show_their_plots() {
    let mut bad = vec![];
    for path in notebooks() {
        let nb: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(nb["metadata"]["kernelspec"]["name"], "rust", "{name}: kernel");
        let cells = nb["cells"].as_array().unwrap();
        let code: Vec<&serde_json::Value> = cells.iter().filter(|c| c["cell_type"] == "code").collect();
        assert!(text(&code[0]["source"]).contains(":dep alexnet_lab = { path = "), "{name}: first code cell imports the crate");
        let mut images = 0;
        for (i, c) in code.iter().enumerate() {
            if text(&c["source"]).trim().is_empty() {
                continue;
            }
            if c["execution_count"].is_null() {
                bad.push(format!("{name}: code cell {i} was not executed"));
            }
            for o in c["outputs"].as_array().unwrap() {
                let t = text(&o["text"]) + &text(&o["traceback"]);
                // evcxr shows an `Err` from a cell's `?` as stderr text and runs on: stderr is a failure.
                let stderr = o["output_type"] == "stream" && o["name"] == "stderr";
                if o["output_type"] == "error" || t.contains("panicked at") || stderr {
                    bad.push(format!("{name}: code cell {i} has an error: {}", &t[..t.len().min(200)]));
                }
                images += ["image/svg+xml", "image/png"].iter().filter(|k| !o["data"][**k].is_null()).count();
            }
        }
        if !name.starts_with("import") && images == 0 {
            bad.push(format!("{name}: no plot in the outputs"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Runs `notebooks/check_outputs.py --committed` on `paths`: (success, what it printed).
fn check_committed(paths: &[std::path::PathBuf]) -> (bool, String) {
    let o = std::process::Command::new("python3")
        .arg(workspace().join("notebooks/check_outputs.py"))
        .arg("--committed")
        .args(paths)
        .output()
        .expect("python3 runs notebooks/check_outputs.py");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
}

/// Notebook 05 with `edit` applied to the first output text that contains `needle`, written
/// into `dir`.
fn doctored_05(dir: &std::path::Path, needle: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    doctored("05_training.ipynb", dir, needle, edit)
}

/// The committed notebook `name` with `edit` applied to the first output text that contains
/// `needle`, written into `dir`.
fn doctored(name: &str, dir: &std::path::Path, needle: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let path = workspace().join("notebooks").join(name);
    let mut nb: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut done = false;
    for c in nb["cells"].as_array_mut().unwrap() {
        for o in c.get_mut("outputs").and_then(|v| v.as_array_mut()).into_iter().flatten() {
            // Only the keys an output has (indexing a JSON object mutably would add the others).
            let slots = [o.pointer_mut("/text").map(|_| "/text"), o.pointer_mut("/data/text~1plain").map(|_| "/data/text~1plain")];
            for key in slots.into_iter().flatten() {
                let Some(slot) = o.pointer_mut(key) else { continue };
                let t = text(slot);
                if !done && t.contains(needle) {
                    *slot = serde_json::Value::String(edit(&t));
                    done = true;
                }
            }
        }
    }
    assert!(done, "notebook {name}'s outputs show no {needle:?}");
    let out = dir.join(name);
    std::fs::write(&out, serde_json::to_string(&nb).unwrap()).unwrap();
    out
}

#[test]
fn committed_outputs_come_from_the_knobs_their_cells_show() {
    // The committed notebooks pass: no knob overridden by the environment, every run label
    // from the profile and image count the cells state, trained at a clean commit.
    let (ok, said) = check_committed(&notebooks());
    assert!(ok, "{said}");
    // An output from another profile than the cell's fails, naming the knob ...
    let dir = common::Scratch::new("doctored-notebooks");
    let other = doctored_05(dir.path(), "run notebook-cpu-full: profile cpu-full,", |t| {
        t.replacen("run notebook-cpu-full: profile cpu-full,", "run notebook-cpu-full: profile quick,", 1)
    });
    let (ok, said) = check_committed(&[other]);
    assert!(!ok && said.contains("ALEXNET_LAB_PROFILE") && said.contains("'quick'"), "{said}");
    // ... as does an output made with a knob the environment overrode ...
    let overridden = doctored_05(dir.path(), "device ", |t| format!("{} ALEXNET_LAB_PROFILE=smoke (the cell says \"cpu-full\")\n{t}", alexnet_lab::report::display::KNOB_OVERRIDE));
    let (ok, said) = check_committed(&[overridden]);
    assert!(!ok && said.contains("the environment set ALEXNET_LAB_PROFILE=smoke"), "{said}");
    // ... and a run trained from uncommitted changes.
    let dirty = doctored_05(dir.path(), ", commit ", |t| {
        let at = t.find(", commit ").unwrap() + ", commit ".len() + 12;
        format!("{}+changes{}", &t[..at], &t[at..])
    });
    let (ok, said) = check_committed(&[dirty]);
    assert!(!ok && said.contains("names no clean commit"), "{said}");
}

/// Every run label is read against the run's checkpoint.json: a label whose test accuracy is
/// not the record's fails, as does a recorded run's line with another batch size.
#[test]
fn run_labels_say_what_their_records_hold() {
    let dir = common::Scratch::new("doctored-records");
    let acc = doctored_05(dir.path(), "test acc 0.893 on all 10000 test images", |t| {
        t.replacen("test acc 0.893 on all 10000 test images", "test acc 0.899 on all 10000 test images", 1)
    });
    let (ok, said) = check_committed(&[acc]);
    assert!(!ok && said.contains("run notebook-cpu-full says test acc 0.899, its record docs/results/cpu-full-2026-12-03/checkpoint.json says 0.893"), "{said}");
    let batch = doctored("07_exercises.ipynb", dir.path(), "recorded run ../docs/results/cpu-6-epochs", |t| {
        t.replacen("6 epochs, batch 64,", "6 epochs, batch 128,", 1)
    });
    let (ok, said) = check_committed(&[batch]);
    assert!(!ok && said.contains("recorded run ../docs/results/cpu-6-epochs says batch size 128, its checkpoint says 64"), "{said}");
}

#[test]
fn the_notebook_set_up_builds_the_crate_as_the_terminal_does() {
    // notebooks/setup.sh writes into the Rust kernel's kernel.json the variables that make evcxr
    // build without debug assertions at opt-level 3; the crate names the same ones when a
    // notebook finds them missing.
    let setup = std::fs::read_to_string(workspace().join("notebooks/setup.sh")).unwrap();
    for (k, v) in alexnet_lab::sys::build::KERNEL_ENV {
        assert!(setup.contains(&format!("\"{k}\": \"{v}\"")), "notebooks/setup.sh does not set {k}={v} in kernel.json");
    }
}

/// With `--release`, outputs made by another crate than HEAD's fail: a notebook whose kernel
/// built the crate of an older commit (the crate changed since) is named; made by HEAD's crate,
/// it passes that rule. Needs the repository's history (skipped in a shallow clone, saying so).
#[test]
fn release_check_names_outputs_of_an_older_crate() {
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git").arg("-C").arg(workspace()).args(args).output().expect("git runs");
        (o.status.success(), String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let old = "5cfb71096a42";
    let (have_old, _) = git(&["cat-file", "-e", &format!("{old}^{{commit}}")]);
    if !have_old {
        eprintln!("skipped: commit {old} is not in this clone's history");
        return;
    }
    let (_, old12) = git(&["rev-parse", "--short=12", old]);
    let (_, head12) = git(&["rev-parse", "--short=12", "HEAD"]);
    let dir = common::Scratch::new("doctored-crate");
    let release = |path: std::path::PathBuf| {
        let o = std::process::Command::new("python3")
            .arg(workspace().join("notebooks/check_outputs.py"))
            .args(["--committed", "--release"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let with_build = |commit: String| {
        doctored_05(dir.path(), "crate built from commit ", move |t| {
            let at = t.find("crate built from commit ").unwrap() + "crate built from commit ".len();
            format!("{}{commit}{}", &t[..at], &t[at + 12..])
        })
    };
    let said = release(with_build(old12.clone()));
    assert!(said.contains("FAIL") && said.contains(&format!("built the crate of {old12}, and the crate has changed since")), "{said}");
    let said = release(with_build(head12.clone()));
    assert!(!said.contains("has changed since"), "{said}");
}
