//! The library returns errors where a user's input reaches, never panics: no `unwrap()`,
//! `expect(`, `panic!`, `assert!`, `todo!`, `unimplemented!` or `unreachable!` in `src/` (the
//! binary in `src/bin/` and tests may use them). Indexing is the lint's part
//! (`clippy::indexing_slicing`, and `tests/layout.rs` keeps its allows to the kernels). The same rule is a `deny` lint in `lib.rs` for `cargo clippy`; this test
//! makes `cargo test` enforce it without clippy.

#[test]
fn library_sources_have_no_panicking_shortcuts() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("bin") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 20, "found the sources: {files:?}");
    let needles = [".unwrap()", ".expect(", "panic!(", "assert!(", "assert_eq!(", "todo!(", "unimplemented!(", "unreachable!("];
    let mut hits = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|k| code.contains(k)) {
                hits.push(format!("{}:{}: {}", f.strip_prefix(&src).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "panicking shortcuts in the library:\n{}", hits.join("\n"));
}
