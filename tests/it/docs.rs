//! The docs cannot drift from the parser: every ```toml block of the README and the book is
//! parsed by the real code as what it is — a whole scenario, a fragment of one (completed with a
//! minimal base), the body of `[traffic]`, a strategy table (a `--strategy` file) or a mock
//! profile — and must be accepted.

use std::path::{Path, PathBuf};

use stampede::scenario::Scenario;

use crate::support::root;

/// The base a fragment is completed with: only the keys the fragment leaves out are taken.
const BASE: &str = r#"
name = "docs-example"
duration = "10s"
[traffic]
arrival = "constant"
rate = 1.0
"#;

/// Every ```toml block of `file`: (line of the fence, text).
fn toml_blocks(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```toml") => current = Some((n + 1, String::new())),
            Some(_) if line.trim_start().starts_with("```") => blocks.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut book: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    book.sort();
    files.extend(book);
    files
}

const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "target",
    "traffic",
    "strategy",
    "slo",
    "strategies",
    "hosting",
    "plan",
];

/// Checks one block; the error says what it was taken for and why it was refused.
fn check(block: &str) -> Result<&'static str, String> {
    let table: toml::Table = toml::from_str(block).map_err(|e| format!("not TOML: {e}"))?;
    let keys: Vec<&str> = table.keys().map(String::as_str).collect();
    // Scenario files name their profiles and traces relative to scenarios/.
    let path = root().join("scenarios/docs-example.toml");
    if keys.iter().all(|k| SCENARIO_KEYS.contains(k)) {
        let mut whole: toml::Table = toml::from_str(BASE).unwrap();
        for (k, v) in table {
            whole.insert(k, v);
        }
        let text = toml::to_string(&whole).unwrap();
        Scenario::parse(&text, &path).map_err(|e| format!("as a scenario: {e}"))?;
        return Ok("scenario");
    }
    if table.contains_key("arrival") {
        let mut whole: toml::Table = toml::from_str(BASE).unwrap();
        whole.insert("traffic".into(), toml::Value::Table(table));
        let text = toml::to_string(&whole).unwrap();
        Scenario::parse(&text, &path).map_err(|e| format!("as the body of [traffic]: {e}"))?;
        return Ok("traffic");
    }
    let as_strategy = toml::from_str::<stampede::strategy::StrategySpec>(block)
        .map_err(|e| e.to_string())
        .and_then(|s| s.validate());
    if as_strategy.is_ok() {
        return Ok("strategy");
    }
    let as_profile = toml::from_str::<stampede_mock::MockSettings>(block).map_err(|e| e.to_string());
    match (as_strategy, as_profile) {
        (_, Ok(_)) => Ok("profile"),
        (Err(s), Err(p)) => Err(format!("neither a strategy table ({s}) nor a mock profile ({p})")),
        (Ok(()), _) => unreachable!(),
    }
}

#[test]
fn every_toml_block_in_the_readme_and_the_book_is_accepted() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for file in doc_files() {
        for (line, block) in toml_blocks(&file) {
            checked += 1;
            if let Err(e) = check(&block) {
                bad.push(format!("{}:{line}: {e}", file.strip_prefix(root()).unwrap().display()));
            }
        }
    }
    assert!(checked >= 4, "only {checked} TOML blocks found: is the search broken?");
    assert!(bad.is_empty(), "TOML blocks the parser refuses:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_refuses_what_the_parser_refuses() {
    // A test that cannot fail is a defect: a misspelt key and an out-of-range value are caught.
    assert!(check("[strategy]\nwokers = 16\n").is_err());
    assert!(check("workers = 0\n").is_err());
    assert!(check("arrival = \"poisson\"\n").is_err(), "poisson needs a rate");
    assert_eq!(check("[strategy]\nworkers = 4\n"), Ok("scenario"));
    assert_eq!(check("workers = 4\n"), Ok("strategy"));
    assert_eq!(check("rpm = 60\n"), Ok("profile"));
}

/// The committed completions and man pages under `docs/cli/` are what clap generates today
/// (`STAMPEDE_BLESS=1` rewrites them).
#[test]
fn completions_and_man_pages_are_up_to_date() {
    use clap_complete::Shell;
    let dir = root().join("docs/cli");
    let bless = std::env::var_os("STAMPEDE_BLESS").is_some();
    let mut stale = Vec::new();
    let mut compare = |name: &str, generated: &[u8]| {
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, generated).unwrap();
        }
        if std::fs::read(&path).ok().as_deref() != Some(generated) {
            stale.push(name.to_string());
        }
    };
    for (shell, name) in [
        (Shell::Bash, "completions/stampede.bash"),
        (Shell::Zsh, "completions/_stampede"),
        (Shell::Fish, "completions/stampede.fish"),
    ] {
        compare(name, &stampede::cli::completion_script(shell));
    }
    let fresh = tempfile::tempdir().unwrap();
    let pages = stampede::cli::write_man_pages(fresh.path()).unwrap();
    assert!(pages.contains(&"stampede.1".to_string()) && pages.contains(&"stampede-run.1".to_string()));
    for page in &pages {
        compare(&format!("man/{page}"), &std::fs::read(fresh.path().join(page)).unwrap());
    }
    assert!(
        stale.is_empty(),
        "out of date under docs/cli/: {stale:?}; run STAMPEDE_BLESS=1 cargo test --workspace"
    );
    // What `stampede man` prints is the main page, naming every command.
    let page = String::from_utf8(stampede::cli::man_page()).unwrap();
    for command in ["run", "compare", "plan", "diff", "report", "mock"] {
        assert!(
            page.contains(&format!("stampede\\-{command}(1)")),
            "the man page lacks {command}"
        );
    }
}
