//! The crate's layers (`src/lib.rs`'s table) point one way: a module uses only the layers below
//! it, never one beside or above it; and inside a folder no two files use each other in a
//! cycle, a folder's `mod.rs` included (it declares and re-exports its files, so nothing it
//! defines may be used by them).
//!
//! Read from the parsed sources (`syn`): every `use` tree (nested groups, renames, globs),
//! every `crate::`/`super::`/`self::` path in code, and those inside macro calls (`format!`
//! arguments), each resolved to the file that defines what it names, through `pub use`
//! re-exports (so `crate::Sequential` is `nn/sequential.rs`, not the crate root). A path that
//! resolves to nothing fails too: nothing escapes by being misspelt. The rules are checked on
//! small made-up crates first, each broken once, so the check is known to catch what it guards.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::library_sources;
use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

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

/// Crate-root items every layer may use: the `named_enum!` macro (a `macro_rules!` must be
/// defined before the modules that call it, so it lives in `lib.rs`).
const ROOT_UTILITIES: [&str; 1] = ["named_enum"];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

type ModPath = Vec<String>;

/// One source file: its path under `src/` (`data/loader.rs`), the module it is, its syntax.
struct Src {
    file: String,
    module: ModPath,
    ast: syn::File,
}

/// A use of another module's item, found in a file.
struct Use {
    line: usize,
    /// As written, `::`-joined.
    written: String,
    /// The absolute path (`crate::` dropped), or `None` for another crate's.
    abs: Option<ModPath>,
}

fn module_of(file: &str) -> ModPath {
    let mut m: ModPath = file.trim_end_matches(".rs").split('/').map(String::from).collect();
    if m.last().is_some_and(|l| l == "mod" || l == "lib") {
        m.pop();
    }
    m
}

/// The crate: its files and, per module, what it defines and re-exports.
struct Crate {
    files: Vec<Src>,
    file_of: BTreeMap<ModPath, usize>,
    defs: BTreeMap<ModPath, BTreeSet<String>>,
    /// module -> name -> (absolute target path)
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    globs: BTreeMap<ModPath, Vec<ModPath>>,
    /// module -> names of other crates it re-exports (`pub use candle_core as candle`)
    externs: BTreeMap<ModPath, BTreeSet<String>>,
}

/// What [`Crate::resolve`] gives for a path into another crate re-exported by this one.
const EXTERN: &str = "<another crate>";

/// `(path, name it binds, glob?)` of every leaf of a `use` tree.
fn flatten(tree: &syn::UseTree, prefix: &mut ModPath, out: &mut Vec<(ModPath, String, bool)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => out.push((prefix.clone(), prefix.last().cloned().unwrap_or_default(), false)),
        syn::UseTree::Name(n) => {
            let mut p = prefix.clone();
            p.push(n.ident.to_string());
            out.push((p, n.ident.to_string(), false));
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            p.push(r.ident.to_string());
            out.push((p, r.rename.to_string(), false));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), String::new(), true)),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(t, prefix, out)),
    }
}

impl Crate {
    fn parse(sources: &[(String, String)]) -> Crate {
        let files: Vec<Src> = sources
            .iter()
            .map(|(file, text)| Src {
                file: file.clone(),
                module: module_of(file),
                ast: syn::parse_file(text).unwrap_or_else(|e| panic!("{file}: {e}")),
            })
            .collect();
        let file_of = files.iter().enumerate().map(|(i, s)| (s.module.clone(), i)).collect();
        let mut c = Crate { files, file_of, defs: BTreeMap::new(), reexports: BTreeMap::new(), globs: BTreeMap::new(), externs: BTreeMap::new() };
        for i in 0..c.files.len() {
            let module = c.files[i].module.clone();
            let mut defs = BTreeSet::new();
            let mut uses = vec![];
            for item in &c.files[i].ast.items {
                let name = match item {
                    syn::Item::Fn(x) => Some(x.sig.ident.to_string()),
                    syn::Item::Struct(x) => Some(x.ident.to_string()),
                    syn::Item::Enum(x) => Some(x.ident.to_string()),
                    syn::Item::Trait(x) => Some(x.ident.to_string()),
                    syn::Item::Const(x) => Some(x.ident.to_string()),
                    syn::Item::Static(x) => Some(x.ident.to_string()),
                    syn::Item::Type(x) => Some(x.ident.to_string()),
                    syn::Item::Union(x) => Some(x.ident.to_string()),
                    syn::Item::Macro(x) => x.ident.as_ref().map(|i| i.to_string()),
                    syn::Item::Mod(x) if x.content.is_some() => Some(x.ident.to_string()),
                    syn::Item::Use(u) => {
                        flatten(&u.tree, &mut vec![], &mut uses);
                        None
                    }
                    _ => None,
                };
                defs.extend(name);
            }
            c.defs.insert(module.clone(), defs);
            for (path, name, glob) in uses {
                let Some(abs) = c.absolute(&module, &path) else {
                    c.externs.entry(module.clone()).or_default().insert(name);
                    continue;
                };
                if glob {
                    c.globs.entry(module.clone()).or_default().push(abs);
                } else if abs != [module.clone(), vec![name.clone()]].concat() {
                    c.reexports.entry(module.clone()).or_default().insert(name, abs);
                }
            }
        }
        c
    }

    fn is_module(&self, m: &[String]) -> bool {
        self.file_of.contains_key(m)
    }

    /// `path` as written in `module`, made absolute; `None` when it names another crate.
    fn absolute(&self, module: &[String], path: &[String]) -> Option<ModPath> {
        let first = path.first()?;
        let mut m: ModPath = module.to_vec();
        let mut rest = path;
        match first.as_str() {
            "crate" => {
                m.clear();
                rest = &path[1..];
            }
            "self" => rest = &path[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop()?;
                    rest = &rest[1..];
                }
            }
            // 2018 paths: a child module or an item of this module, else another crate.
            name => {
                let mut child = m.clone();
                child.push(name.to_string());
                let own = self.defs.get(&m).is_some_and(|d| d.contains(name));
                if !self.is_module(&child) && !own {
                    return None;
                }
            }
        }
        m.extend(rest.iter().cloned());
        Some(m)
    }

    /// The module whose file defines what the absolute `path` names (a module names itself),
    /// following re-exports; `None` when nothing in the crate defines it.
    fn resolve(&self, path: &[String], depth: usize) -> Option<ModPath> {
        if depth > 16 {
            return None;
        }
        let mut m: ModPath = vec![];
        for (i, seg) in path.iter().enumerate() {
            let mut child = m.clone();
            child.push(seg.clone());
            if self.is_module(&child) {
                m = child;
                continue;
            }
            if self.defs.get(&m).is_some_and(|d| d.contains(seg)) {
                return Some(m);
            }
            if self.externs.get(&m).is_some_and(|e| e.contains(seg)) {
                return Some(vec![EXTERN.to_string()]);
            }
            let rest = &path[i + 1..];
            if let Some(target) = self.reexports.get(&m).and_then(|r| r.get(seg)) {
                return self.resolve(&[target.clone(), rest.to_vec()].concat(), depth + 1);
            }
            for g in self.globs.get(&m).into_iter().flatten() {
                if let Some(r) = self.resolve(&[g.clone(), vec![seg.clone()], rest.to_vec()].concat(), depth + 1) {
                    return Some(r);
                }
            }
            return None;
        }
        Some(m)
    }

    /// Every use of a crate path in file `i`.
    fn uses(&self, i: usize) -> Vec<Use> {
        struct V<'a> {
            c: &'a Crate,
            module: ModPath,
            out: Vec<Use>,
        }
        impl V<'_> {
            fn push(&mut self, path: ModPath, line: usize) {
                let written = path.join("::");
                let abs = self.c.absolute(&self.module, &path);
                self.out.push(Use { line, written, abs });
            }
            fn tokens(&mut self, ts: TokenStream) {
                let toks: Vec<TokenTree> = ts.into_iter().collect();
                let mut k = 0;
                while k < toks.len() {
                    if let TokenTree::Group(g) = &toks[k] {
                        self.tokens(g.stream());
                    }
                    if let TokenTree::Ident(id) = &toks[k] {
                        if id == "crate" || id == "super" {
                            let line = id.span().start().line;
                            let mut path = vec![id.to_string()];
                            let mut j = k + 1;
                            while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(n))) =
                                (toks.get(j), toks.get(j + 1), toks.get(j + 2))
                            {
                                if a.as_char() != ':' || b.as_char() != ':' {
                                    break;
                                }
                                path.push(n.to_string());
                                j += 3;
                            }
                            if path.len() > 1 {
                                self.push(path, line);
                            }
                            k = j;
                            continue;
                        }
                    }
                    k += 1;
                }
            }
        }
        impl<'ast> Visit<'ast> for V<'_> {
            fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
                let mut leaves = vec![];
                flatten(&u.tree, &mut vec![], &mut leaves);
                let line = u.use_token.span.start().line;
                for (path, _, _) in leaves {
                    if path.first().is_some_and(|f| f == "crate" || f == "super" || f == "self")
                        || self.c.absolute(&self.module, &path).is_some()
                    {
                        self.push(path, line);
                    }
                }
            }
            fn visit_path(&mut self, p: &'ast syn::Path) {
                let segs: ModPath = p.segments.iter().map(|s| s.ident.to_string()).collect();
                if segs.len() > 1 && segs.first().is_some_and(|f| f == "crate" || f == "super" || f == "self") {
                    let line = p.segments.first().map_or(0, |s| s.ident.span().start().line);
                    self.push(segs, line);
                }
                syn::visit::visit_path(self, p);
            }
            fn visit_macro(&mut self, m: &'ast syn::Macro) {
                self.tokens(m.tokens.clone());
                syn::visit::visit_macro(self, m);
            }
            fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
                // An inline module: its `super::` is this file's module.
                self.module.push(m.ident.to_string());
                syn::visit::visit_item_mod(self, m);
                self.module.pop();
            }
        }
        let mut v = V { c: self, module: self.files[i].module.clone(), out: vec![] };
        v.visit_file(&self.files[i].ast);
        v.out
    }

    fn file_name(&self, m: &[String]) -> String {
        self.file_of.get(m).map_or_else(|| format!("{m:?}"), |&i| self.files[i].file.clone())
    }

    /// Uses that reach a layer beside or above their own, and crate paths that resolve to nothing.
    fn layer_violations(&self) -> Vec<String> {
        let mut wrong = vec![];
        for (i, f) in self.files.iter().enumerate() {
            let top = f.module.first().map_or("lib", String::as_str);
            let Some(own) = layer(top) else {
                wrong.push(format!("{}: a top-level module missing from LAYERS", f.file));
                continue;
            };
            for u in self.uses(i) {
                let Some(abs) = &u.abs else { continue };
                let Some(target) = self.resolve(abs, 0) else {
                    // Inline test modules' `super::*` items and the like resolve; a crate path
                    // that resolves to nothing is a misspelling or a macro this check cannot see.
                    wrong.push(format!("{}:{}: `{}` names nothing in the crate", f.file, u.line, u.written));
                    continue;
                };
                let used = target.first().map_or("lib", String::as_str);
                if used == EXTERN {
                    continue;
                }
                let root_utility = target.is_empty() && abs.len() == 1 && ROOT_UTILITIES.contains(&abs[0].as_str());
                if used == top || root_utility {
                    continue;
                }
                match layer(used) {
                    Some(l) if l < own => {}
                    _ => wrong.push(format!(
                        "{}:{}: {top} (layer {own}) uses `{}`, defined in {} ({used}, layer {})",
                        f.file,
                        u.line,
                        u.written,
                        self.file_name(&target),
                        layer(used).map_or("?".into(), |l| l.to_string())
                    )),
                }
            }
        }
        wrong
    }

    /// A cycle among the files of one folder (`mod.rs` one of them: its `mod` declarations and
    /// re-exports use its files), if there is one.
    fn folder_cycle(&self) -> Option<String> {
        let dir = |f: &str| f.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string());
        let mut graph: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let mut targets = BTreeSet::new();
            for u in self.uses(i) {
                let Some(t) = u.abs.as_ref().and_then(|a| self.resolve(a, 0)) else { continue };
                if let Some(&j) = self.file_of.get(&t) {
                    targets.insert(j);
                }
            }
            // `mod x;` in a mod.rs: the folder's file x.rs (or x/mod.rs).
            for item in &f.ast.items {
                if let syn::Item::Mod(m) = item {
                    if m.content.is_none() {
                        if let Some(&j) = self.file_of.get(&[f.module.clone(), vec![m.ident.to_string()]].concat()) {
                            targets.insert(j);
                        }
                    }
                }
            }
            targets.retain(|&j| j != i && dir(&self.files[j].file) == dir(&f.file) && f.file.contains('/'));
            graph.insert(i, targets);
        }
        fn visit(n: usize, g: &BTreeMap<usize, BTreeSet<usize>>, path: &mut Vec<usize>, done: &mut BTreeSet<usize>) -> Option<Vec<usize>> {
            if let Some(k) = path.iter().position(|&p| p == n) {
                return Some([&path[k..], &[n]].concat());
            }
            if !done.insert(n) {
                return None;
            }
            path.push(n);
            for &t in g.get(&n).into_iter().flatten() {
                if let Some(c) = visit(t, g, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        for &n in graph.keys() {
            if let Some(c) = visit(n, &graph, &mut vec![], &mut done) {
                return Some(c.iter().map(|&i| self.files[i].file.clone()).collect::<Vec<_>>().join(" -> "));
            }
        }
        None
    }
}

fn the_library() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources: Vec<(String, String)> = library_sources()
        .iter()
        .map(|p| (p.strip_prefix(&src).unwrap().display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    assert!(sources.len() > 30, "{}", sources.len());
    Crate::parse(&sources)
}

fn made_up(files: &[(&str, &str)]) -> Crate {
    Crate::parse(&files.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect::<Vec<_>>())
}

#[test]
fn layers_point_down() {
    let wrong = the_library().layer_violations();
    assert!(wrong.is_empty(), "modules that reach sideways or up (see LAYERS in src/lib.rs's table):\n{}", wrong.join("\n"));
}

#[test]
fn no_cycles_inside_a_folder() {
    if let Some(c) = the_library().folder_cycle() {
        panic!("files of one folder that use each other: {c}");
    }
}

/// A crate that keeps every rule; each case below breaks one.
const GOOD: [(&str, &str); 7] = [
    ("lib.rs", "macro_rules! named_enum { () => {} }\npub(crate) use named_enum;\npub mod error;\npub mod kernels;\npub mod nn;\npub mod train;\npub use error::Result;\npub use nn::Sequential;"),
    ("error.rs", "pub type Result<T> = std::result::Result<T, ()>;"),
    ("kernels/mod.rs", "pub mod conv;\npub use conv::conv2d;"),
    ("kernels/conv.rs", "use crate::Result;\ncrate::named_enum!();\npub fn conv2d() -> Result<()> { Ok(()) }"),
    ("nn/mod.rs", "pub mod sequential;\npub use sequential::Sequential;"),
    ("nn/sequential.rs", "pub struct Sequential;\nfn f() { crate::kernels::conv::conv2d().ok(); }"),
    ("train/mod.rs", "pub struct Fit;\nfn g() { let _ = crate::nn::Sequential; }"),
];

fn with(changes: &[(&str, &str)]) -> Crate {
    let mut files: Vec<(&str, &str)> = GOOD.iter().filter(|(f, _)| !changes.iter().any(|(c, _)| c == f)).copied().collect();
    files.extend(changes.iter().copied());
    made_up(&files)
}

#[test]
fn the_check_passes_a_crate_that_keeps_the_rules() {
    let c = with(&[]);
    assert_eq!(c.layer_violations(), Vec::<String>::new());
    assert_eq!(c.folder_cycle(), None);
}

#[test]
fn a_nested_use_tree_reaching_up_is_caught() {
    // The old text scan read only the name right after `crate::` and skipped `{`.
    let c = with(&[("kernels/conv.rs", "use crate::{train::Fit, Result};\npub fn conv2d() -> Result<()> { Ok(()) }")]);
    let v = c.layer_violations();
    assert!(v.len() == 1 && v[0].contains("kernels/conv.rs:1") && v[0].contains("`crate::train::Fit`, defined in train/mod.rs"), "{v:?}");
}

#[test]
fn a_crate_root_reexport_is_followed_to_where_it_is_defined() {
    // `crate::Sequential` is nn's, re-exported at the root: kernels (layer 2) may not use it.
    let c = with(&[("kernels/conv.rs", "pub fn conv2d() -> crate::Result<()> { let _ = crate::Sequential; Ok(()) }")]);
    let v = c.layer_violations();
    assert!(v.len() == 1 && v[0].contains("`crate::Sequential`, defined in nn/sequential.rs (nn, layer 3)"), "{v:?}");
}

#[test]
fn super_paths_and_paths_in_macros_are_checked() {
    let c = with(&[("kernels/conv.rs", "pub fn conv2d() -> crate::Result<()> { let _ = super::super::train::Fit; Ok(()) }")]);
    let v = c.layer_violations();
    assert!(v.len() == 1 && v[0].contains("`super::super::train::Fit`"), "{v:?}");
    let c = with(&[("kernels/conv.rs", "pub fn conv2d() -> crate::Result<()> { println!(\"{:?}\", crate::nn::Sequential); Ok(()) }")]);
    let v = c.layer_violations();
    assert!(v.len() == 1 && v[0].contains("`crate::nn::Sequential`"), "{v:?}");
    // A misspelt path cannot slip through as "not a module".
    let c = with(&[("kernels/conv.rs", "pub fn conv2d() -> crate::Result<()> { crate::nn::Sequentail; Ok(()) }")]);
    let v = c.layer_violations();
    assert!(v.len() == 1 && v[0].contains("names nothing"), "{v:?}");
}

#[test]
fn a_mod_rs_is_a_node_of_its_folder() {
    // nn/mod.rs re-exports sequential.rs; sequential.rs using an item mod.rs defines closes a cycle.
    let c = with(&[
        ("nn/mod.rs", "pub mod sequential;\npub use sequential::Sequential;\npub const WIDTH: usize = 4;"),
        ("nn/sequential.rs", "pub struct Sequential;\nfn f() -> usize { super::WIDTH }"),
    ]);
    assert_eq!(c.layer_violations(), Vec::<String>::new());
    assert_eq!(c.folder_cycle().as_deref(), Some("nn/mod.rs -> nn/sequential.rs -> nn/mod.rs"));
    // Reaching a sibling through mod.rs's re-export is a use of the sibling, not of mod.rs.
    let c = with(&[
        ("nn/mod.rs", "pub mod sequential;\npub mod layer;\npub use layer::Layer;\npub use sequential::Sequential;"),
        ("nn/layer.rs", "pub struct Layer;"),
        ("nn/sequential.rs", "use super::Layer;\npub struct Sequential(Layer);"),
    ]);
    assert_eq!(c.folder_cycle(), None);
}

/// The only places that may index without bounds checks (`clippy::indexing_slicing` allowed)
/// are the CPU kernels, each saying why its indices are in bounds.
#[test]
fn indexing_is_allowed_only_in_the_kernels() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = vec![];
    for f in library_sources() {
        let text = std::fs::read_to_string(&f).unwrap();
        if text.contains("allow(clippy::indexing_slicing)") && !f.starts_with(src.join("kernels")) {
            wrong.push(f.display().to_string());
        }
    }
    assert!(wrong.is_empty(), "indexing allowed outside src/kernels: {wrong:?}");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains("clippy::indexing_slicing"), "lib.rs denies clippy::indexing_slicing");
}
