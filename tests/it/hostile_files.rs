//! Hostile files, numbers, folders and keys through the real binary: a 5 GB one-line trace, a
//! 500 MB summary, `/dev/zero` and FIFOs as inputs, prices and spend limits out of range, a
//! summary with impossible figures, two runs on one `--out`, and API keys a header cannot
//! carry. Each ends within seconds with exit 2 and a message naming the file (line), key and
//! range — and the child's peak memory (VmHWM) stays far below what reading the file whole
//! would take.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of the binary left, with its peak resident memory.
struct Ended {
    code: Option<i32>,
    stderr: String,
    peak_mb: u64,
}

/// The most memory a refused command may take: reading any of these files whole would take
/// gigabytes.
const PEAK_LIMIT_MB: u64 = 256;

/// Peak resident memory of process `pid` in MB (VmHWM), if it still runs.
fn peak_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Runs `stampede ARGS` in `dir` with `env`, polling its peak memory; killed (and the test
/// failed) after `limit`.
fn stampede(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)], limit: Duration) -> Ended {
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_mb(child.id()) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("stampede {args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ended {
        code: status.code(),
        stderr: reader.join().unwrap(),
        peak_mb: peak,
    }
}

fn run(dir: &Path, args: &[&str]) -> Ended {
    stampede(dir, args, &[], Duration::from_secs(30))
}

/// Exit 2, every piece in the message, a short message, little memory.
fn assert_refused(e: &Ended, pieces: &[&str]) {
    assert_eq!(e.code, Some(2), "expected exit 2; stderr: {}", e.stderr);
    for p in pieces {
        assert!(e.stderr.contains(p), "the message lacks {p:?}: {}", e.stderr);
    }
    assert!(e.stderr.len() < 2000, "a {}-byte message", e.stderr.len());
    assert!(e.peak_mb < PEAK_LIMIT_MB, "peak memory {} MB", e.peak_mb);
}

/// A sim scenario replaying `t.jsonl` (or the traffic given).
fn scenario(traffic: &str, extra: &str) -> String {
    format!(
        "name = \"hostile-files\"\nduration = \"5s\"\n{extra}\n[target]\nkind = \"sim\"\nprofile = \"tier1\"\n[traffic]\n{traffic}\n"
    )
}

/// A sparse file of `len` zero bytes: one line as long as the file, no disk used.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_trace_with_a_5_gb_line_is_refused_at_its_line_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    sparse(&dir.path().join("t.jsonl"), 5_000_000_000);
    sparse(&dir.path().join("t.csv"), 5_000_000_000);
    let jsonl = scenario(
        "arrival = \"trace\"\ntrace = { file = \"t.jsonl\", format = \"jsonl\" }",
        "",
    );
    std::fs::write(dir.path().join("s.toml"), jsonl).unwrap();
    let csv = scenario(
        "arrival = \"trace\"\ntrace = { file = \"t.csv\", format = \"azure\" }",
        "",
    );
    std::fs::write(dir.path().join("c.toml"), csv).unwrap();
    for command in ["validate", "traffic", "run"] {
        let e = run(
            dir.path(),
            &[command, "s.toml", "-q"][..if command == "run" { 3 } else { 2 }],
        );
        assert_refused(&e, &["t.jsonl:1:", "longer than 1 MiB"]);
        let e = run(dir.path(), &[command, "c.toml"]);
        assert_refused(&e, &["t.csv:1:", "longer than 1 MiB"]);
    }
    // A quoted CSV field running over many short lines is one record: bounded the same way.
    let quoted = format!(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\"{}",
        format!("{}\n", "x".repeat(999)).repeat(3000)
    );
    std::fs::write(dir.path().join("t.csv"), quoted).unwrap();
    assert_refused(
        &run(dir.path(), &["validate", "c.toml"]),
        &["t.csv:1050:", "longer than 1 MiB"],
    );
    // Even when bad rows are to be skipped: a line past the limit ends the reading.
    let skip = scenario(
        "arrival = \"trace\"\ntrace = { file = \"t.jsonl\", format = \"jsonl\", skip_bad_rows = true }",
        "",
    );
    std::fs::write(dir.path().join("s.toml"), skip).unwrap();
    assert_refused(&run(dir.path(), &["validate", "s.toml"]), &["t.jsonl:1:"]);
}

#[test]
fn a_500_mb_summary_is_refused_before_a_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    sparse(&dir.path().join("big.json"), 500_000_000);
    let e = run(dir.path(), &["report", "big.json", "--out", "re"]);
    assert_refused(&e, &["big.json", "500.0 MB is more than the 64 MiB a summary may be"]);
    assert!(!dir.path().join("re").exists(), "report left a folder");
    let e = run(dir.path(), &["diff", "big.json", "big.json"]);
    assert_refused(&e, &["big.json", "64 MiB"]);
}

#[test]
fn devices_fifos_and_folders_are_refused_at_once_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("arrival = \"poisson\"\nrate = 1.0", ""),
    )
    .unwrap();
    let e = run(dir.path(), &["run", "s.toml", "--catalog", "/dev/zero"]);
    assert_refused(&e, &["--catalog", "/dev/zero: is a device, not a regular file"]);
    let e = run(dir.path(), &["validate", "/dev/zero"]);
    assert_refused(&e, &["/dev/zero: is a device"]);
    let e = run(dir.path(), &["validate", "."]);
    assert_refused(&e, &["is a folder"]);
    mkfifo(&dir.path().join("pipe.toml"));
    mkfifo(&dir.path().join("pipe.jsonl"));
    let start = Instant::now();
    let e = run(dir.path(), &["validate", "pipe.toml"]);
    assert_refused(&e, &["pipe.toml: is a FIFO (named pipe)"]);
    let fifo_trace = scenario(
        "arrival = \"trace\"\ntrace = { file = \"pipe.jsonl\", format = \"jsonl\" }",
        "",
    );
    std::fs::write(dir.path().join("t.toml"), fifo_trace).unwrap();
    let e = run(dir.path(), &["validate", "t.toml"]);
    assert_refused(&e, &["pipe.jsonl: is a FIFO"]);
    let e = run(dir.path(), &["run", "s.toml", "--catalog", "pipe.toml"]);
    assert_refused(&e, &["pipe.toml: is a FIFO"]);
    let e = run(dir.path(), &["report", "pipe.jsonl"]);
    assert_refused(&e, &["pipe.jsonl: is a FIFO"]);
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    // A scenario past 4 MiB (a comment), without being read whole.
    sparse(&dir.path().join("huge.toml"), 3_000_000_000);
    assert_refused(
        &run(dir.path(), &["validate", "huge.toml"]),
        &["huge.toml: 3.0 GB is more than the 4 MiB a scenario may be"],
    );
}

#[test]
fn numbers_out_of_range_are_refused_with_key_range_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let model = "[models.\"gemini-2.5-flash\"]\ndisplay_name = \"F\"\ninput_token_limit = 1000000\n\
                 output_token_limit = 65536\ninput = 1e308\noutput = 2.5\nsource = \"me\"\nread = \"today\"\n";
    std::fs::write(dir.path().join("cat.toml"), model).unwrap();
    let base = scenario("arrival = \"poisson\"\nrate = 1.0", "");
    std::fs::write(dir.path().join("s.toml"), &base).unwrap();
    let e = run(dir.path(), &["run", "s.toml", "--catalog", "cat.toml", "-q"]);
    assert_refused(
        &e,
        &[
            "cat.toml",
            "models.\"gemini-2.5-flash\".input: expected 0 to 100000 USD, got 1e308",
        ],
    );
    let cases = [
        (
            "spend_limit = { usd = -1.0, window = \"10m\" }",
            "spend_limit.usd: expected 0 to 1000000000 USD, got -1",
        ),
        (
            "spend_limit = { usd = 5.0, window = \"0s\" }",
            "spend_limit.window: expected above 0s to 366 days, got 0s",
        ),
        (
            "spend_limit = { usd = 5.0, window = \"273y\" }",
            "spend_limit.window: expected above 0s to 366 days, got 273years",
        ),
        (
            "monthly_cap_usd = -1.0",
            "monthly_cap_usd: expected 0 to 1000000000 USD, got -1",
        ),
        ("flex_shed_at = 7.5", "flex_shed_at: expected 0 to 1, got 7.5"),
    ];
    for (mock, message) in cases {
        let text = base.replace(
            "profile = \"tier1\"",
            &format!("profile = \"tier1\"\n[target.mock]\n{mock}"),
        );
        std::fs::write(dir.path().join("m.toml"), text).unwrap();
        assert_refused(&run(dir.path(), &["validate", "m.toml"]), &["m.toml", message]);
    }
    let users = scenario("arrival = \"closed\"\nusers = 1000000000", "");
    std::fs::write(dir.path().join("u.toml"), users).unwrap();
    for command in ["validate", "run"] {
        assert_refused(
            &run(dir.path(), &[command, "u.toml"]),
            &["u.toml:", "users: expected 1 to 100000, got 1000000000"],
        );
    }
}

/// Writes `summary` with `edit` applied as `name` in `dir`.
fn edited(dir: &Path, summary: &serde_json::Value, name: &str, edit: impl Fn(&mut serde_json::Value)) {
    let mut s = summary.clone();
    edit(&mut s);
    std::fs::write(dir.join(name), serde_json::to_string(&s).unwrap()).unwrap();
}

#[test]
fn a_summary_with_impossible_figures_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("arrival = \"poisson\"\nrate = 5.0", ""),
    )
    .unwrap();
    let e = run(dir.path(), &["run", "s.toml", "--out", "run", "-q"]);
    assert!(matches!(e.code, Some(0 | 1)), "{}", e.stderr);
    let text = std::fs::read_to_string(dir.path().join("run/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    edited(dir.path(), &summary, "rate.json", |s| {
        s["requests"]["success_rate"] = serde_json::json!(7.5)
    });
    edited(dir.path(), &summary, "p95.json", |s| {
        s["latency_ms"]["p95"] = serde_json::json!(-3.0)
    });
    edited(dir.path(), &summary, "count.json", |s| {
        s["requests"]["scheduled"] = serde_json::json!(1u64 << 60)
    });
    for (file, message) in [
        ("rate.json", "requests.success_rate: expected 0 to 1, got 7.5"),
        ("p95.json", "latency_ms.p95: expected 0 or more (finite), got -3"),
        (
            "count.json",
            "requests.scheduled: expected requests.succeeded + failed + dropped",
        ),
    ] {
        let e = run(dir.path(), &["diff", "run/summary.json", file]);
        assert_refused(&e, &[file, message]);
        let e = run(dir.path(), &["report", file, "--out", "re"]);
        assert_refused(&e, &[file, message]);
    }
    assert_eq!(
        run(dir.path(), &["diff", "run/summary.json", "run/summary.json"]).code,
        Some(0)
    );
}

#[test]
fn a_second_run_on_a_locked_out_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    // A live run against the mock whose answers take 30 s holds `out` until it is killed.
    let slow = "name = \"slow\"\nduration = \"60s\"\n[target]\nkind = \"mock\"\nprofile = \"tier1\"\n\
        [target.mock]\nrpm = 0\ntpm = 0\nrpd = 0\nlatency = { dist = \"constant\", value = \"30s\" }\n\
        [traffic]\narrival = \"constant\"\nrate = 1.0\n";
    std::fs::write(dir.path().join("slow.toml"), slow).unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("arrival = \"poisson\"\nrate = 5.0", ""),
    )
    .unwrap();
    let mut holder = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", "slow.toml", "--out", "out", "-q"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("out/.stampede.lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |pid| pid.trim().is_empty()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the first run never locked out/"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = run(dir.path(), &["run", "s.toml", "--out", "out", "-q"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_refused(&e, &[&format!("(pid {})", holder.id()), "nothing was sent"]);
    assert!(!dir.path().join("out/summary.json").exists());
    // The killed holder left its lock behind: the next run takes it over and removes it.
    assert!(lock.exists());
    let e = run(dir.path(), &["run", "s.toml", "--out", "out", "-q"]);
    assert!(matches!(e.code, Some(0 | 1)), "{}", e.stderr);
    assert!(dir.path().join("out/summary.json").exists() && !lock.exists());
    let names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".tmp")),
        "temporary files left: {names:?}"
    );
}

#[test]
fn api_keys_a_header_cannot_carry_are_refused_before_anything_is_sent() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of this machine; a key problem must be found before a request.
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("arrival = \"constant\"\nrate = 1.0", "").replace("5s", "1s"),
    )
    .unwrap();
    let args = [
        "run",
        "s.toml",
        "--target",
        "gemini",
        "--base-url",
        "http://127.0.0.1:9",
        "-q",
    ];
    let secret = "AIzaSECRETkey";
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "GEMINI_API_KEY",
            format!("{secret}\n").into_bytes(),
            "whitespace before or after the key",
        ),
        ("GEMINI_API_KEY", format!(" {secret}").into_bytes(), "whitespace"),
        (
            "GEMINI_API_KEY",
            format!("{secret}é").into_bytes(),
            "not printable ASCII at position 14",
        ),
        ("GEMINI_API_KEY", [secret.as_bytes(), b"\xff"].concat(), "is not UTF-8"),
    ];
    for (name, value, message) in &cases {
        let value = std::ffi::OsStr::from_bytes(value);
        let e = stampede(dir.path(), &args, &[(name, value)], Duration::from_secs(30));
        assert_refused(&e, &[name, message]);
        assert!(!e.stderr.contains("SECRET"), "the key was printed: {}", e.stderr);
    }
    let openai = [
        "run",
        "s.toml",
        "--target",
        "openai",
        "--base-url",
        "http://127.0.0.1:9",
        "-q",
    ];
    let bad = std::ffi::OsStr::from_bytes(b"sk-key\r\n");
    let e = stampede(dir.path(), &openai, &[("OPENAI_API_KEY", bad)], Duration::from_secs(30));
    assert_refused(&e, &["OPENAI_API_KEY", "whitespace"]);
}

#[test]
fn the_limits_page_carries_the_ranges_table() {
    // The book's bounds table is generated from the one table of ranges
    // (`STAMPEDE_BLESS=1` rewrites it).
    let path = crate::support::root().join("docs/src/limits.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = page.split_once("<!-- ranges:start -->\n").expect("the start marker");
    let (shown, tail) = rest.split_once("<!-- ranges:end -->").expect("the end marker");
    let table = stampede_mock::ranges::markdown_table();
    if std::env::var_os("STAMPEDE_BLESS").is_some() && shown != table {
        std::fs::write(
            &path,
            format!("{head}<!-- ranges:start -->\n{table}<!-- ranges:end -->{tail}"),
        )
        .unwrap();
        return;
    }
    assert_eq!(
        shown, table,
        "docs/src/limits.md is out of date; run STAMPEDE_BLESS=1 cargo test --test integration"
    );
}

#[test]
fn runs_started_together_on_one_new_folder_never_trip_over_each_other() {
    // Six runs on one fresh folder at the same instant: each either runs (0 or 1) or is
    // refused naming the run that holds the folder, never a failed write check; the folder
    // ends with one run's files, whole.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("arrival = \"poisson\"\nrate = 5.0", ""),
    )
    .unwrap();
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_stampede"))
                .args(["run", "s.toml", "--out", "together", "-q"])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ran = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0 | 1) => ran += 1,
            Some(2) => assert!(stderr.contains("is being written by another stampede"), "{stderr}"),
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    assert!(ran >= 1);
    let summary = std::fs::read_to_string(dir.path().join("together/summary.json")).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&summary).is_ok());
    assert!(!dir.path().join("together/.stampede.lock").exists());
}
