//! Every crate's modules form a one-way stack: no module imports one that imports it,
//! directly or around a circle. Read from the source: each `crate::` path (and `super::`
//! from a module in a folder) names the module file it reaches; the crate root, which only
//! declares and re-exports, is no node of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module files under `src`, by module path (`commands::sync`); the root is `""`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // A binary's own folder is a crate of its own.
                if path.file_name().is_some_and(|n| n != "bin") {
                    pending.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts
                .last()
                .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
            {
                parts.pop();
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The module paths a source text reaches through `crate::`: each path, and each item of a
/// `crate::{a, b::c}` group.
fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let path = path.trim_end_matches(':').to_string();
            let after = &rest[path.len()..];
            if path.is_empty() || after.trim_start_matches(':').starts_with('{') {
                let group = after.trim_start_matches(':');
                let inner = group
                    .strip_prefix('{')
                    .and_then(|g| g.split('}').next())
                    .unwrap_or_default();
                for item in inner.split(',') {
                    let item = item.trim();
                    if item == "self" {
                        paths.push(path.clone());
                    }
                    if item.is_empty() || item == "self" {
                        continue;
                    }
                    let joined = if path.is_empty() {
                        item.to_string()
                    } else {
                        format!("{path}::{item}")
                    };
                    paths.push(joined);
                }
            } else {
                paths.push(path);
            }
        }
    }
    paths
}

/// The module a path reaches: its longest prefix that is a module file.
fn resolve(path: &str, known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").map(str::trim).collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| known.contains_key(candidate))
}

/// The edges between a crate's modules, root left out.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, path) in &known {
        if name.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let mut targets: Vec<String> = crate_paths(&text)
            .iter()
            .filter_map(|p| resolve(p, &known))
            .collect();
        // `super::` from a module in a folder is its parent (a `mod tests` inside a file
        // names its own file, which is no edge).
        let is_folder_module = path.file_name().is_some_and(|n| n == "mod.rs");
        let parent = match name.rsplit_once("::") {
            Some((parent, _)) if !is_folder_module => Some(parent.to_string()),
            _ => None,
        };
        if let Some(parent) = parent
            && text.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("use super::") && !l.starts_with("use super::*")
            })
        {
            targets.push(parent);
        }
        let entry = edges.entry(name.clone()).or_default();
        for target in targets {
            if !target.is_empty() && target != *name {
                entry.insert(target);
            }
        }
    }
    edges
}

/// A circle in `edges`, if there is one, as the modules along it.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let root = usage_tests::workspace_root();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    sources.push(root.join("xtask/src"));
    sources.sort();
    let mut checked = 0;
    for src in sources.iter().filter(|s| s.is_dir()) {
        let edges = graph(src);
        checked += edges.len();
        if let Some(found) = circle(&edges) {
            panic!(
                "{}: the modules import each other in a circle: {}; move what they share below both",
                src.display(),
                found.join(" -> ")
            );
        }
    }
    assert!(checked > 50, "{checked} modules read");
}

#[test]
fn a_circle_is_found() {
    let src = std::env::temp_dir().join(format!("usage-module-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("commands")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod commands;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::commands::{sync, jobs::Row};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("commands/mod.rs"),
        "pub mod sync;\npub mod jobs;\n",
    )
    .unwrap();
    std::fs::write(src.join("commands/jobs.rs"), "pub struct Row;\n").unwrap();
    std::fs::write(
        src.join("commands/sync.rs"),
        "// use crate::a; in a comment is no import\nfn f() { crate::a::g() }\n",
    )
    .unwrap();
    let edges = graph(&src);
    assert_eq!(
        edges["a"],
        BTreeSet::from(["commands::sync".to_string(), "commands::jobs".to_string()])
    );
    assert_eq!(
        circle(&edges),
        Some(vec!["a".into(), "commands::sync".into(), "a".into()])
    );
    std::fs::write(src.join("commands/sync.rs"), "// use crate::a;\n").unwrap();
    assert_eq!(circle(&graph(&src)), None);
    std::fs::remove_dir_all(&src).unwrap();
}
