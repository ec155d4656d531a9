//! The crate's layers (`src/lib.rs`'s table) point one way: a module uses only the layers below
//! it, never one beside or above it; and inside a folder no two files use each other in a
//! cycle. Read from the sources (`crate::…` and `super::…` paths outside comments), so a new
//! `use` that reaches up fails here, with the file and line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::library_sources;

/// Each top-level module's layer; a module may use modules of lower layers only.
const LAYERS: [(&str, u8); 10] = [
    ("error", 0),
    ("sys", 1),
    ("kernels", 2),
    ("report", 2),
    ("nn", 3),
    ("data", 3),
    ("train", 4),
    ("lecture", 5),
    ("prelude", 6),
    ("lib", 7),
];

fn rel(p: &Path) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    p.strip_prefix(src).unwrap().iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect()
}

/// `(line number, name)` of every `<prefix>name` in code (comments left out).
fn uses(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
            rest = after;
        }
    }
    out
}

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

#[test]
fn layers_point_down() {
    let mut wrong = vec![];
    let files = library_sources();
    assert!(files.len() > 30, "{files:?}");
    for f in &files {
        let r = rel(f);
        let top = r[0].as_str();
        let Some(own) = layer(top) else { panic!("{}: a top-level module missing from LAYERS", f.display()) };
        let text = std::fs::read_to_string(f).unwrap();
        for (line, used) in uses(&text, "crate::") {
            if used == top {
                continue;
            }
            match layer(&used) {
                Some(l) if l < own => {}
                // Crate-root items (`crate::Result`, `crate::named_enum!`, `crate::parse_chw`).
                None if used.chars().next().is_some_and(|c| c.is_uppercase()) || ["named_enum", "parse_chw"].contains(&used.as_str()) => {}
                _ => wrong.push(format!("{}:{line}: {top} (layer {own}) uses crate::{used}", r.join("/"))),
            }
        }
    }
    assert!(wrong.is_empty(), "modules that reach sideways or up (see LAYERS in src/lib.rs's table):\n{}", wrong.join("\n"));
}

#[test]
fn no_cycles_inside_a_folder() {
    // file -> siblings it uses, per folder
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let files = library_sources();
    let known: BTreeSet<Vec<String>> = files.iter().map(|f| rel(f)).collect();
    for f in &files {
        let r = rel(f);
        if r.len() < 2 {
            continue;
        }
        let folder = &r[..r.len() - 1];
        let text = std::fs::read_to_string(f).unwrap();
        let mut targets = BTreeSet::new();
        let crate_prefix = format!("crate::{}::", folder.join("::"));
        for (_, name) in uses(&text, "super::").into_iter().chain(uses(&text, &crate_prefix)) {
            let mut t = folder.to_vec();
            t.push(name);
            if known.contains(&t) && t != r {
                targets.insert(t);
            }
        }
        graph.insert(r, targets);
    }
    fn visit(
        n: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let cycle: Vec<String> = path[i..].iter().chain([n]).map(|p| p.join("/")).collect();
            return Some(cycle.join(" -> "));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.clone());
        for t in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(t, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, &graph, &mut vec![], &mut done) {
            panic!("files that use each other: {c}");
        }
    }
}

/// The only places that may index without bounds checks (`clippy::indexing_slicing` allowed)
/// are the CPU kernels, each saying why its indices are in bounds.
#[test]
fn indexing_is_allowed_only_in_the_kernels() {
    let mut wrong = vec![];
    for f in library_sources() {
        let r = rel(&f);
        let text = std::fs::read_to_string(&f).unwrap();
        if text.contains("allow(clippy::indexing_slicing)") && r[0] != "kernels" {
            wrong.push(r.join("/"));
        }
    }
    assert!(wrong.is_empty(), "indexing allowed outside src/kernels: {wrong:?}");
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(lib.contains("clippy::indexing_slicing"), "lib.rs denies clippy::indexing_slicing");
}
