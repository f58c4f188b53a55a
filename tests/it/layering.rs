//! The layering of `src/`, checked from the code itself: every `crate::…` and `super::…`
//! path of every file (its `use` lines and the paths written inline, tests included) must
//! point down the order that `src/lib.rs` states, and no files may import each other in a
//! circle. There is no list of exceptions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up; modules in one group are peers and may not
/// import each other. Keep in step with the tour in `src/lib.rs`.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["model"],
    &["events"],
    &["metrics", "schema"],
    &["projections"],
    &["commands"],
    &["store"],
    &["auth"],
    &["state"],
    &["actions"],
    &["transports", "notify", "kafka"],
    &["app", "bench"],
    &["config"],
    &["admin"],
];

/// A module path, as its segments under the crate root (`["store", "sqlite", "writer"]`).
type Module = Vec<String>;

#[test]
fn imports_point_down_the_layers_and_close_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_tree(&src);
    assert!(files.len() > 50, "read only {} files of src/", files.len());
    let graph = Graph::new(&files);
    let mut problems = graph.upward_imports();
    problems.extend(graph.circles());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let layered: BTreeSet<&str> = LAYERS.iter().flat_map(|g| g.iter().copied()).collect();
    assert_eq!(declared, layered, "src/lib.rs's modules and LAYERS differ");
}

#[test]
fn the_check_finds_an_upward_import_and_a_circle() {
    let files = vec![
        (
            vec!["model".to_owned()],
            "use crate::store::Store;\n".to_owned(),
        ),
        (
            vec!["store".to_owned(), "a".to_owned()],
            "use super::b::B;\n".to_owned(),
        ),
        (
            vec!["store".to_owned(), "b".to_owned()],
            "fn f() { let _ = crate::store::a::A; }\n".to_owned(),
        ),
        (vec!["store".to_owned()], "mod a;\nmod b;\n".to_owned()),
    ];
    let graph = Graph::new(&files);
    let upward = graph.upward_imports();
    assert_eq!(upward.len(), 1, "{upward:?}");
    assert!(upward[0].contains("model -> store"), "{upward:?}");
    let circles = graph.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(circles[0].contains("store::a"), "{circles:?}");
}

/// Every `.rs` file under `src`, as (module path, text), except the binary's `main.rs`.
fn read_tree(src: &Path) -> Vec<(Module, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/") {
            let path: PathBuf = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).expect("under src/");
                if rel == Path::new("main.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.push((module_of(rel), text));
            }
        }
    }
    out
}

/// `store/sqlite/mod.rs` → `store::sqlite`; `lib.rs` → the root.
fn module_of(rel: &Path) -> Module {
    let mut parts: Module = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Which file imports which, at the level of files.
struct Graph {
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    fn new(files: &[(Module, String)]) -> Graph {
        let modules: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, text) in files {
            let targets = edges.entry(module.clone()).or_default();
            for path in paths_in(text) {
                let Some(full) = absolute(module, &path) else {
                    continue;
                };
                // The longest prefix that is a file of the tree.
                let target = (1..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|prefix| modules.contains(prefix));
                if let Some(target) = target.filter(|t| t != module) {
                    targets.insert(target);
                }
            }
        }
        Graph { edges }
    }

    /// Imports between top-level modules that point up the layers or sideways to a peer.
    fn upward_imports(&self) -> Vec<String> {
        let rank = |m: &Module| -> Option<usize> {
            let top = m.first()?;
            LAYERS.iter().position(|g| g.contains(&top.as_str()))
        };
        let mut found = Vec::new();
        for (from, targets) in &self.edges {
            for to in targets {
                if from.first() == to.first() || from.is_empty() {
                    continue;
                }
                let (Some(a), Some(b)) = (rank(from), rank(to)) else {
                    found.push(format!(
                        "{} -> {}: a module without a layer",
                        from.join("::"),
                        to.join("::")
                    ));
                    continue;
                };
                if b >= a {
                    found.push(format!(
                        "{} -> {}: points {} ({} -> {})",
                        from.join("::"),
                        to.join("::"),
                        if a == b { "sideways, to a peer" } else { "up" },
                        from[0],
                        to[0]
                    ));
                }
            }
        }
        found
    }

    /// Circles of files importing each other. A file's use of an enclosing module (its
    /// `super`, the façade that declares it) is not an arrow of a circle: only siblings and
    /// cousins can close one.
    fn circles(&self) -> Vec<String> {
        let mut edges: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
        for (from, targets) in &self.edges {
            let kept = targets.iter().filter(|to| !from.starts_with(to)).collect();
            edges.insert(from, kept);
        }
        strongly_connected(&edges)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
                format!("a circle: {}", names.join(", "))
            })
            .collect()
    }
}

/// Tarjan's algorithm: the strongly connected components of `edges`.
fn strongly_connected<'a>(edges: &BTreeMap<&'a Module, Vec<&'a Module>>) -> Vec<Vec<&'a Module>> {
    struct State<'a> {
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<&'a Module>>,
    }
    fn visit<'a>(v: &'a Module, edges: &BTreeMap<&'a Module, Vec<&'a Module>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in edges.get(v).map(Vec::as_slice).unwrap_or_default() {
            if !s.index.contains_key(w) {
                visit(w, edges, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(v, edges, &mut state);
        }
    }
    state.out
}

/// Every path the text names from `crate`, `super` or `self`, with `use` groups
/// (`use crate::{a::B, c}`) expanded. Comments are left out.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        let root = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|r| rest.starts_with(r));
        match root.filter(|_| starts_word) {
            Some(_) => {
                let (tree, used) = path_tree(rest);
                out.extend(tree);
                i += used.max(1);
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads one path (with its `{…}` groups) from the start of `s`: the full paths it names and
/// how many bytes it spans.
fn path_tree(s: &str) -> (Vec<Vec<String>>, usize) {
    let bytes = s.as_bytes();
    let mut prefix = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < s.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i > start {
            prefix.push(s[start..i].to_owned());
        }
        if s[i..].starts_with("::{") {
            i += 3;
            let mut paths = Vec::new();
            loop {
                while i < s.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                    i += 1;
                }
                if i >= s.len() || bytes[i] == b'}' {
                    i += 1;
                    break;
                }
                let (inner, used) = path_tree(&s[i..]);
                for p in inner {
                    paths.push(prefix.iter().cloned().chain(p).collect());
                }
                i += used.max(1);
            }
            return (paths, i);
        }
        if s[i..].starts_with("::") {
            i += 2;
            continue;
        }
        return (vec![prefix], i);
    }
}

/// The path from the crate root that `path`, written in `module`, names.
fn absolute(module: &Module, path: &[String]) -> Option<Module> {
    let mut base: Module = Vec::new();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => rest = &rest[1..],
        Some("self") | Some("super") => {
            base = module.clone();
            while let Some(step) = rest.first() {
                match step.as_str() {
                    "self" => {}
                    "super" => {
                        base.pop()?;
                    }
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    Some(base)
}
