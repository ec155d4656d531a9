//! The library returns errors where a user's input reaches, never panics: no `unwrap()`,
//! `expect(`, `panic!`, `assert!`, `todo!`, `unimplemented!` or `unreachable!` in `src/` (the
//! binary in `src/bin/` and tests may use them). Indexing is the lint's part
//! (`clippy::indexing_slicing`, and `tests/layout.rs` keeps its allows to the kernels). The
//! same rule is a `deny` lint in `lib.rs` for `cargo clippy`; this test makes `cargo test`
//! enforce it without clippy.

mod common;

#[test]
fn library_sources_have_no_panicking_shortcuts() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = common::library_sources();
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
