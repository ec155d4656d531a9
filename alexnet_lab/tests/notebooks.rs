//! The committed notebooks: the six of the lecture are there, in order, each starts by
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
fn the_six_lecture_notebooks_are_there_in_order() {
    let names: Vec<String> = notebooks()
        .iter()
        .filter(|p| p.parent().unwrap().ends_with("notebooks") && !p.to_string_lossy().contains("tests/"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let numbers: Vec<&str> = names.iter().map(|n| &n[..2]).collect();
    assert_eq!(numbers, ["01", "02", "03", "04", "05", "06"], "{names:?}");
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
