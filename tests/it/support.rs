//! Helpers: run the CLI in-process, write scenarios to temp dirs, read summaries.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The result of one CLI invocation.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `stampede ARGS...` in-process.
pub fn stampede(args: &[&str]) -> Outcome {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("stampede").chain(args.iter().copied()).map(Into::into);
    let code = stampede::cli::main_with(argv, &mut out, &mut err);
    Outcome {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Runs the real binary in its own process: for runs that put a catalog in force, which is
/// process-wide and would leak into other tests running in this one.
pub fn stampede_process(args: &[&str]) -> Outcome {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .output()
        .expect("the stampede binary runs");
    Outcome {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads `summary.json` from a run's output folder.
pub fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Runs a scenario quietly into `out`; returns the exit code and the summary.
pub fn run_to(path: &Path, out: &Path, extra: &[&str]) -> (Outcome, Value) {
    let mut args = vec!["run", path.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = stampede(&args);
    assert!(o.code == 0 || o.code == 1, "exit {}: {}", o.code, o.stderr);
    let s = summary(out);
    (o, s)
}

/// Plans a scenario quietly into `out` without the hosting probe or growth what-ifs; returns
/// the outcome (exit 0 asserted) and plan.json.
pub fn plan_to(path: &Path, out: &Path, extra: &[&str]) -> (Outcome, Value) {
    let mut args = vec![
        "plan",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-probe",
        "--no-growth",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = stampede(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plan = serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    (o, plan)
}

/// Asserts the accounting identity of a summary.
pub fn assert_accounted(s: &Value) {
    let r = &s["requests"];
    let n = |k: &str| r[k].as_u64().unwrap();
    assert_eq!(n("scheduled"), n("succeeded") + n("failed") + n("dropped"), "{r}");
}
