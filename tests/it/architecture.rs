//! The architecture test (the ArchUnit habit): reads `src/` and fails when a module imports
//! one that is not below it, so an import loop cannot come back unnoticed.
//!
//! The layers, bottom first. A module may import modules of lower layers only, never one of
//! its own layer or above (a module's own submodules are its own business):
//!
//! | layer | modules | what they are |
//! | ---: | --- | --- |
//! | 0 | `format`, `stats`, `histogram`, `spec_error`, `queueing`, `meter` | shared vocabulary: units, means ± CI, latency histograms, input positions, queueing theory, the process's CPU and memory |
//! | 1 | `traffic`, `backend` | planned requests (no clock); attempts and their transports |
//! | 2 | `strategy` | the calling plan's policies: see attempts, never HTTP |
//! | 3 | `scenario`, `engine` | the input model; the engine driving traffic through the policies |
//! | 4 | `metrics` | records folded into histograms, counters, series |
//! | 5 | `summary` | the saved `summary.json` (with the advice types it carries) |
//! | 6 | `advice`, `run_spec` | advice from a summary; a run's resolved specification |
//! | 7 | `spend` | the spend guard, from a run's specification |
//! | 8 | `run` | one run end to end |
//! | 9 | `commands` | compare, plan, hosting, diff, bench: many runs and saved runs |
//! | 10 | `report` | pages and files from summaries, comparisons and plans |
//! | 11 | `cli` | the command line: arguments, terminals, exit codes |
//!
//! The table below counts in tens (layer 3 is 30), so that inside `commands` (90) its own
//! modules can be layered likewise: `pool`, `diff` (90) < `hosting`, `compare` (91) < `plan`,
//! `bench` (92).

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::root;

/// `(module path, layer)`; the longest path that prefixes a module decides its layer.
const LAYERS: &[(&str, u32)] = &[
    ("format", 0),
    ("stats", 0),
    ("histogram", 0),
    ("spec_error", 0),
    ("queueing", 0),
    ("meter", 0),
    ("traffic", 10),
    ("backend", 10),
    ("strategy", 20),
    ("scenario", 30),
    ("engine", 30),
    ("metrics", 40),
    ("summary", 50),
    ("advice", 60),
    ("run_spec", 60),
    ("spend", 70),
    ("run", 80),
    ("commands", 90),
    ("report", 100),
    ("cli", 110),
    ("commands::pool", 90),
    ("commands::diff", 90),
    ("commands::bench", 92),
    ("commands::hosting", 91),
    ("commands::compare", 91),
    ("commands::plan", 92),
];

/// The module a file belongs to, as a path from the crate root (`commands::plan`).
fn module_of(file: &Path, src: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts
}

/// The rule that governs `path`: the longest listed prefix and its layer.
fn rule(path: &[String]) -> Option<(Vec<String>, u32)> {
    LAYERS
        .iter()
        .map(|(m, layer)| (m.split("::").map(String::from).collect::<Vec<_>>(), *layer))
        .filter(|(m, _)| path.starts_with(m))
        .max_by_key(|(m, _)| m.len())
}

/// Every `crate::a::b` path a line names, `crate::{a, b::c}` groups included.
fn crate_paths(line: &str) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let path: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !path.is_empty() {
                    found.push(path);
                }
            }
        } else {
            let path: Vec<String> = after
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !path.is_empty() {
                found.push(path);
            }
        }
        rest = after;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import against the layers, as `file:line: a imports b`.
fn violations() -> Vec<String> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in &files {
        let module = module_of(file, &src);
        if module.is_empty() {
            continue; // lib.rs and main.rs name every module.
        }
        let Some((own, layer)) = rule(&module) else {
            bad.push(format!(
                "{}: module {} has no layer in LAYERS",
                file.display(),
                module.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for path in crate_paths(line) {
                let Some((theirs, their_layer)) = rule(&path) else {
                    continue; // A crate-root item or a name LAYERS does not know: checked above.
                };
                if theirs != own && their_layer >= layer {
                    bad.push(format!(
                        "{}:{}: {} (layer {layer}) imports {} (layer {their_layer})",
                        file.strip_prefix(root()).unwrap().display(),
                        n + 1,
                        own.join("::"),
                        path.join("::"),
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn every_import_points_down_the_layers() {
    let bad = violations();
    assert!(bad.is_empty(), "imports against the layers:\n{}", bad.join("\n"));
}

#[test]
fn every_module_of_src_has_a_layer() {
    let src = root().join("src");
    let mut tops: BTreeMap<String, ()> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let name = name.trim_end_matches(".rs").to_string();
        if name != "lib" && name != "main" {
            tops.insert(name, ());
        }
    }
    for name in tops.keys() {
        assert!(
            rule(std::slice::from_ref(name)).is_some(),
            "src/{name} has no layer in LAYERS"
        );
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    // A test that cannot fail is a defect: the scanner must find paths in both forms.
    let paths = crate_paths("use crate::{report::format, engine::Progress}; // crate::cli");
    assert_eq!(
        paths,
        vec![
            vec!["report".to_string(), "format".into()],
            vec!["engine".into(), "Progress".into()]
        ]
    );
    let (_, low) = rule(&["traffic".into()]).unwrap();
    let (_, high) = rule(&["report".into(), "format".into()]).unwrap();
    assert!(high > low, "report is above traffic, so traffic may not import it");
    assert_eq!(
        rule(&["commands".into(), "plan".into(), "search".into()]).unwrap().1,
        92
    );
}
