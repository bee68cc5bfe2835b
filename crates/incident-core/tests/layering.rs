//! The top-level modules of incident-core form a directed acyclic graph: a newcomer can read the crate
//! from the bottom up (severity, duration, policy, classify, detector, timeline, incident, comms, ingest,
//! engine, ...) without meeting a module that needs one above it.
//!
//! This test reads `src/` and collects every `crate::<module>` path (and the names `lib.rs` re-exports at
//! the root) outside test code, then fails with the edges of any cycle. Doc comments and line comments
//! are ignored: a link in prose is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Names `lib.rs` re-exports at the crate root, and the module each comes from.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Policy", "policy"),
    ("HumanDuration", "duration"),
    ("ParseDurationError", "duration"),
    ("Error", "error"),
    ("ErrorKind", "error"),
    ("Result", "error"),
    ("Severity", "severity"),
    ("Status", "severity"),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Top-level modules: `src/x.rs` and `src/x/`.
fn modules() -> BTreeSet<String> {
    fs::read_dir(src())
        .expect("src/ is readable UTF-8")
        .filter_map(|e| {
            let e = e.expect("src/ is readable UTF-8");
            let name = e.file_name().into_string().expect("src/ is readable UTF-8");
            if e.file_type().expect("src/ is readable UTF-8").is_dir() {
                Some(name)
            } else {
                name.strip_suffix(".rs").filter(|m| *m != "lib").map(str::to_owned)
            }
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("src/ is readable UTF-8") {
        let p = e.expect("src/ is readable UTF-8").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` tail (test modules sit last).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Identifiers following `crate::`, including those inside `use crate::{a::X, b, Y}` groups.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Only the first segment of each item in the group names a module or a root name; nested
            // groups (`a::{b, c}`) contribute their head only.
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for ch in group[..end].chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 && (ch.is_alphanumeric() || ch == '_') {
                    if item_start {
                        word.push(ch);
                    }
                } else if depth == 0 && ch == ',' {
                    item_start = true;
                } else if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                    item_start = false;
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
        } else {
            out.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    out
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mods = modules();
    let root: BTreeMap<&str, &str> = ROOT_NAMES.iter().copied().collect();
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in files {
        let rel = file.strip_prefix(src()).expect("src/ is readable UTF-8");
        let first = rel
            .components()
            .next()
            .expect("src/ is readable UTF-8")
            .as_os_str()
            .to_str()
            .expect("src/ is readable UTF-8");
        let owner = first.strip_suffix(".rs").unwrap_or(first).to_owned();
        let stem = file.file_stem().expect("src/ is readable UTF-8").to_str().expect("src/ is readable UTF-8");
        if owner == "lib" || stem == "tests" || stem == "testutil" {
            continue;
        }
        for name in crate_paths(&code(&fs::read_to_string(&file).expect("src/ is readable UTF-8"))) {
            let target = root.get(name.as_str()).map_or(name.clone(), |m| (*m).to_owned());
            if target != owner && mods.contains(&target) {
                edges.entry(owner.clone()).or_default().entry(target).or_default().insert(rel.display().to_string());
            }
        }
    }
    assert!(
        edges.get("policy").is_some_and(|e| e.contains_key("severity")),
        "the scan sees policy → severity: {edges:?}"
    );

    // Tarjan's strongly connected components; any component of more than one module is a cycle.
    struct Scc<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl Scc<'_> {
        fn visit(&mut self, v: &str) {
            self.index.insert(v.to_owned(), self.next);
            self.low.insert(v.to_owned(), self.next);
            self.next += 1;
            self.stack.push(v.to_owned());
            let targets: Vec<String> = self.edges.get(v).map(|e| e.keys().cloned().collect()).unwrap_or_default();
            for w in targets {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let low = self.low[v].min(self.low[&w]);
                    self.low.insert(v.to_owned(), low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[&w]);
                    self.low.insert(v.to_owned(), low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    let done = w == v;
                    component.push(w);
                    if done {
                        break;
                    }
                }
                self.found.push(component);
            }
        }
    }
    let mut scc = Scc {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for m in &mods {
        if !scc.index.contains_key(m) {
            scc.visit(m);
        }
    }
    let mut report = String::new();
    for component in scc.found.iter().filter(|c| c.len() > 1) {
        report.push_str(&format!("cycle among {component:?}:\n"));
        for a in component {
            for (b, files) in edges.get(a).into_iter().flatten() {
                if component.contains(b) {
                    report.push_str(&format!(
                        "  {a} -> {b} ({})\n",
                        files.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    assert!(report.is_empty(), "incident-core's modules must not depend on each other in a cycle:\n{report}");
}
