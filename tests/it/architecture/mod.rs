//! The architecture test (the ArchUnit habit): reads `src/` and `mock-server/src/` and fails
//! when a module imports one that is not below it, so an import loop cannot come back
//! unnoticed. Every path a file names counts: `use` trees over several lines with nested
//! groups, `crate::`, `super::` and `self::` paths in code, names the crate root re-exports
//! (see `paths.rs`).
//!
//! The layers, bottom first. A module may import modules of lower layers only, never one of
//! its own layer or above (a module's own submodules are its own business):
//!
//! | layer | modules | what they are |
//! | ---: | --- | --- |
//! | 0 | `format`, `stats`, `histogram`, `spec_error`, `queueing`, `meter`, `out_file` | shared vocabulary: units, means ± CI, latency histograms, input positions, queueing theory, the process's CPU and memory, output files written whole under a folder lock |
//! | 1 | `traffic`, `backend` | planned requests (no clock); attempts and their transports |
//! | 2 | `strategy` | the calling plan's policies: see attempts, never HTTP |
//! | 3 | `scenario`, `engine` | the input model; the engine driving traffic through the policies |
//! | 4 | `metrics` | records folded into histograms, counters, series |
//! | 5 | `summary` | the saved `summary.json` (with the advice types it carries) |
//! | 6 | `advice`, `spend` | advice from a summary; the spend guard's estimate and watch |
//! | 6.5 | `rests_on`, `shard` | what a run rests on; a shard's requests and calling plan |
//! | 7 | `prepare` | a run prepared once: every check, price, key and profile resolved |
//! | 8 | `run` | one run end to end |
//! | 9 | `commands` | compare, plan, hosting, diff, bench: many runs and saved runs |
//! | 10 | `report` | pages and files from summaries, comparisons and plans |
//! | 11 | `cli` | the command line: arguments, terminals, exit codes |
//!
//! The table below counts in tens (layer 3 is 30), so that inside `commands` (90) its own
//! modules can be layered likewise: `pool`, `diff` (90) < `hosting`, `compare` (91) < `plan`,
//! `bench` (92).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::root;

mod paths;

/// `(module path, layer)` of `src/`; the longest path that prefixes a module decides its layer.
const LAYERS: &[(&str, u32)] = &[
    ("format", 0),
    ("stats", 0),
    ("histogram", 0),
    ("spec_error", 0),
    ("queueing", 0),
    ("meter", 0),
    ("out_file", 0),
    ("traffic", 10),
    ("backend", 10),
    ("strategy", 20),
    ("scenario", 30),
    ("engine", 30),
    ("metrics", 40),
    ("summary", 50),
    ("advice", 60),
    ("spend", 60),
    ("rests_on", 65),
    ("shard", 65),
    ("prepare", 70),
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

/// The layers of the mock crate (`mock-server/src/`), bottom first, in tens like [`LAYERS`]:
/// plain values and arithmetic, input files; the ranges of numbers (5: they say durations);
/// the catalog and distributions; profiles; quotas; the spend windows; error bodies and batch
/// jobs; the behaviour model; the wire types; the recording format (it reads requests in the
/// wire types); the HTTP server; the standalone command.
const MOCK_LAYERS: &[(&str, u32)] = &[
    ("duration", 0),
    ("rng", 0),
    ("store_budget", 0),
    ("tokens", 0),
    ("capacity", 0),
    ("context_cache", 5),
    ("prefix", 6),
    ("usage", 0),
    ("thinking", 0),
    ("quota_kind", 0),
    ("input_file", 0),
    ("ranges", 5),
    ("catalog", 10),
    ("dist", 10),
    ("profile", 20),
    ("quota", 30),
    ("spend", 40),
    ("errors", 50),
    ("batch", 50),
    ("bounds", 55),
    ("model", 60),
    ("wire", 70),
    ("record", 75),
    ("server", 80),
    ("standalone", 90),
];

/// One crate to check: its source folder and its layers.
struct Crate {
    src: PathBuf,
    layers: &'static [(&'static str, u32)],
}

fn stampede() -> Crate {
    Crate {
        src: root().join("src"),
        layers: LAYERS,
    }
}

fn mock() -> Crate {
    Crate {
        src: root().join("mock-server/src"),
        layers: MOCK_LAYERS,
    }
}

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

/// The rule that governs `path` in `layers`: the longest listed prefix and its layer.
fn rule(layers: &[(&str, u32)], path: &[String]) -> Option<(Vec<String>, u32)> {
    layers
        .iter()
        .map(|(m, layer)| (m.split("::").map(String::from).collect::<Vec<_>>(), *layer))
        .filter(|(m, _)| path.starts_with(m))
        .max_by_key(|(m, _)| m.len())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names the crate root re-exports (`pub use model::{MockModel, Call};`), each with the
/// path it stands for, so `crate::MockModel` counts as `crate::model::MockModel`.
fn reexports(lib: &str) -> BTreeMap<String, Vec<String>> {
    let code = paths::code_only(lib);
    let mut names = BTreeMap::new();
    for statement in code.split(';') {
        let Some(tree) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        for path in paths::expand(&[], tree) {
            if let Some(last) = path.last() {
                names.insert(last.clone(), path.clone());
            }
        }
    }
    names
}

/// Every import of one file (module `module`, text `text`) against `layers`, as
/// `shown:line: a imports b`.
fn file_violations(
    layers: &[(&str, u32)],
    aliases: &BTreeMap<String, Vec<String>>,
    module: &[String],
    text: &str,
    shown: &str,
) -> Vec<String> {
    let Some((own, layer)) = rule(layers, module) else {
        return vec![format!("{shown}: module {} has no layer", module.join("::"))];
    };
    let mut bad = Vec::new();
    for (line, path) in paths::named_paths(&paths::code_only(text), module) {
        let path = match path.first().and_then(|f| aliases.get(f)) {
            Some(real) => real.iter().chain(&path[1..]).cloned().collect(),
            None => path,
        };
        let Some((theirs, their_layer)) = rule(layers, &path) else {
            continue; // A crate-root item or a name the layers do not know: checked below.
        };
        if theirs != own && their_layer >= layer {
            bad.push(format!(
                "{shown}:{line}: {} (layer {layer}) imports {} (layer {their_layer})",
                own.join("::"),
                path.join("::"),
            ));
        }
    }
    bad
}

/// Every import against the layers in `krate`, `planted` text appended to the file whose path
/// ends with its first element (for the tests that plant a loop).
fn violations(krate: &Crate, planted: Option<(&str, &str)>) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&krate.src, &mut files);
    files.sort();
    let lib = std::fs::read_to_string(krate.src.join("lib.rs")).unwrap_or_default();
    let aliases = reexports(&lib);
    let mut bad = Vec::new();
    for file in &files {
        let module = module_of(file, &krate.src);
        if module.is_empty() {
            continue; // lib.rs and main.rs name every module.
        }
        let mut text = std::fs::read_to_string(file).unwrap();
        if let Some((_, extra)) = planted.filter(|(end, _)| file.ends_with(end)) {
            text.push_str(extra);
        }
        let shown = file.strip_prefix(root()).unwrap().display().to_string();
        bad.extend(file_violations(krate.layers, &aliases, &module, &text, &shown));
    }
    bad
}

#[test]
fn every_import_points_down_the_layers() {
    let bad = violations(&stampede(), None);
    assert!(bad.is_empty(), "imports against the layers:\n{}", bad.join("\n"));
}

#[test]
fn every_import_of_the_mock_crate_points_down_its_layers() {
    let bad = violations(&mock(), None);
    assert!(bad.is_empty(), "imports against the mock's layers:\n{}", bad.join("\n"));
}

#[test]
fn every_module_has_a_layer() {
    for krate in [stampede(), mock()] {
        for entry in std::fs::read_dir(&krate.src).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let name = name.trim_end_matches(".rs").to_string();
            if name != "lib" && name != "main" {
                assert!(
                    rule(krate.layers, std::slice::from_ref(&name)).is_some(),
                    "{}/{name} has no layer",
                    krate.src.display()
                );
            }
        }
    }
}

#[test]
fn the_checker_sees_a_planted_loop() {
    // A test that cannot fail is a defect: each planted import must be found.
    let mock = mock();
    for (plant, names) in [
        ("\nuse crate::model::MockModel;\n", "imports model::MockModel"),
        ("\nuse crate::MockModel;\n", "imports model::MockModel"),
        (
            "\nfn f() -> Option<crate::model::Call<'static>> { None }\n",
            "imports model::Call",
        ),
        (
            "\nuse crate::{\n    catalog,\n    server::{self,\n        RequestLog},\n};\n",
            "imports server::RequestLog",
        ),
    ] {
        let bad = violations(&mock, Some(("mock-server/src/batch.rs", plant)));
        assert!(
            bad.iter().any(|b| b.contains(names)),
            "{plant:?} planted in batch.rs: {bad:?}"
        );
        assert!(bad.iter().all(|b| b.contains("mock-server/src/batch.rs:")), "{bad:?}");
    }
    let src = stampede();
    let bad = violations(
        &src,
        Some((
            "src/strategy/retry.rs",
            "\nmod t {\n    use super::super::super::{\n        engine::Engine, strategy::pipeline};\n}\n",
        )),
    );
    assert_eq!(
        bad.len(),
        1,
        "super::super from strategy::retry's inline module: {bad:?}"
    );
    assert!(bad[0].contains("imports engine::Engine"), "{bad:?}");
}

#[test]
fn paths_resolve_from_the_module_that_names_them() {
    let here: Vec<String> = vec!["commands".into(), "plan".into(), "point".into()];
    let found = paths::named_paths(
        &paths::code_only(
            "use super::{search::Search, super::pool};\n// use crate::cli;\nlet s = \"crate::report\";\n\
             mod tests {\n    use super::*;\n}\nfn g() { crate::format::secs(1.0); }\n",
        ),
        &here,
    );
    let shown: Vec<String> = found.iter().map(|(l, p)| format!("{l}:{}", p.join("::"))).collect();
    assert_eq!(
        shown,
        vec![
            "1:commands::plan::search::Search",
            "1:commands::pool",
            "5:commands::plan::point",
            "7:format::secs",
        ]
    );
    let (_, low) = rule(LAYERS, &["traffic".into()]).unwrap();
    let (_, high) = rule(LAYERS, &["report".into(), "format".into()]).unwrap();
    assert!(high > low, "report is above traffic, so traffic may not import it");
    assert_eq!(
        rule(LAYERS, &["commands".into(), "plan".into(), "search".into()])
            .unwrap()
            .1,
        92
    );
}
