//! Hostile input through the real binary: every case ends within seconds with 0/1 (a sane run)
//! or 2 (refused, naming the key and its valid range) — never a panic (101), a signal, a hang,
//! or a message that repeats a huge value. Each run has a wall-clock limit; one past it fails
//! the test instead of hanging the suite.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of the binary left.
struct Ended {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Runs `stampede ARGS` in `dir`, killed after `limit`.
fn stampede_in(dir: &Path, args: &[&str], limit: Duration) -> Ended {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return Ended {
                code: status.code(),
                stderr,
                took: start.elapsed(),
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("stampede {args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A scenario with `traffic` as its `[traffic]` body (and `extra` top-level keys first).
fn scenario(extra: &str, traffic: &str) -> String {
    format!(
        "{extra}\nname = \"hostile\"\nduration = \"5s\"\n[target]\nkind = \"sim\"\nprofile = \"tier1\"\n[traffic]\n{traffic}\n"
    )
}

/// Writes `text` as `s.toml` into a fresh folder and runs `stampede ARGS s.toml MORE`.
fn run_scenario(text: &str, args: &[&str], more: &[&str]) -> (tempfile::TempDir, Ended) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), text).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.push("s.toml");
    all.extend_from_slice(more);
    let ended = stampede_in(dir.path(), &all, Duration::from_secs(30));
    (dir, ended)
}

/// A refusal: exit 2, the message names `key` and says `range`, and it is short.
fn assert_refused(e: &Ended, key: &str, range: &str) {
    assert_eq!(e.code, Some(2), "expected exit 2; stderr: {}", e.stderr);
    assert!(e.stderr.contains(key), "the message does not name {key}: {}", e.stderr);
    assert!(
        e.stderr.contains(range),
        "the message does not give the range {range}: {}",
        e.stderr
    );
    assert!(e.stderr.len() < 2000, "a {}-byte message", e.stderr.len());
}

/// A sane end: 0 or 1, quickly.
fn assert_sane(e: &Ended) {
    assert!(
        matches!(e.code, Some(0 | 1)),
        "expected exit 0 or 1, got {:?}: {}",
        e.code,
        e.stderr
    );
    assert!(e.took < Duration::from_secs(20), "took {:?}", e.took);
}

#[test]
fn absurd_rates_factors_and_windows_are_refused_with_their_range() {
    let (_d, e) = run_scenario(&scenario("", "arrival = \"poisson\"\nrate = 1e308"), &["validate"], &[]);
    assert_refused(&e, "rate", "expected 0 to 1000000 requests per second, got 1e308");
    let (_d, e) = run_scenario(&scenario("", "arrival = \"constant\"\nrate = 1e308"), &["run"], &[]);
    assert_refused(&e, "rate", "expected 0 to 1000000 requests per second, got 1e308");
    let spike = "arrival = \"poisson\"\nrate = 5.0\nspikes = [{ at = \"1s\", length = \"1s\", factor = 1e308 }]";
    let (_d, e) = run_scenario(&scenario("", spike), &["run"], &[]);
    assert_refused(&e, "spikes.factor", "expected 1 to 1000, got 1e308");
    let (_d, e) = run_scenario(
        &scenario("", "arrival = \"poisson\"\nrate = 5.0").replace("\"5s\"", "\"1000000000h\""),
        &["run"],
        &[],
    );
    assert_refused(&e, "duration", "expected above 0s to 366 days");
    // The same bound for the command line's window, and no zero window either.
    let (_d, e) = run_scenario(
        &scenario("", "arrival = \"poisson\"\nrate = 5.0"),
        &["run"],
        &["--duration", "0s"],
    );
    assert_eq!(e.code, Some(2), "{}", e.stderr);
    // A volume past 10^9 requests says how many it would send.
    let (_d, e) = run_scenario(
        &scenario("", "arrival = \"constant\"\nrate = 1000000.0").replace("\"5s\"", "\"2h\""),
        &["run"],
        &[],
    );
    assert_refused(&e, "requests", "at most 1,000,000,000");
}

#[test]
fn tiny_rates_and_far_timestamps_end_instead_of_panicking() {
    for arrival in ["poisson", "constant"] {
        let (_d, e) = run_scenario(
            &scenario("", &format!("arrival = \"{arrival}\"\nrate = 1e-20")),
            &["run"],
            &["-q"],
        );
        assert_sane(&e);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.jsonl"),
        "\u{feff}{\"t\": 0, \"input_tokens\": 10, \"output_tokens\": 5}\n{\"t\": 1e300, \"input_tokens\": 10, \"output_tokens\": 5}\n",
    )
    .unwrap();
    let trace = "arrival = \"trace\"\ntrace = { file = \"t.jsonl\", format = \"jsonl\" }";
    std::fs::write(dir.path().join("s.toml"), scenario("", trace)).unwrap();
    let e = stampede_in(dir.path(), &["run", "s.toml", "-q"], Duration::from_secs(30));
    assert_sane(&e);
    for (key, value) in [("speedup", "1e-300"), ("rate_scale", "1e308")] {
        let trace =
            format!("arrival = \"trace\"\ntrace = {{ file = \"t.jsonl\", format = \"jsonl\", {key} = {value} }}");
        std::fs::write(dir.path().join("s.toml"), scenario("", &trace)).unwrap();
        let e = stampede_in(dir.path(), &["run", "s.toml"], Duration::from_secs(30));
        assert_refused(&e, key, "expected 0.001 to 1000, got");
    }
}

#[test]
fn names_that_cannot_be_folders_are_refused() {
    let base = scenario("", "arrival = \"poisson\"\nrate = 1.0");
    let long = "n".repeat(300);
    for name in ["..", ".", long.as_str(), "a\\u0000b", "bell\\u0007", "a/b"] {
        let text = base.replace("name = \"hostile\"", &format!("name = \"{name}\""));
        let (dir, e) = run_scenario(&text, &["run"], &[]);
        assert_refused(&e, "name", "1 to 100 printable characters");
        assert!(
            !dir.path().join("summary.json").exists(),
            "{name:?} wrote into the working folder"
        );
        assert!(
            !dir.path().join("reports/summary.json").exists(),
            "{name:?} wrote into reports/"
        );
    }
}

#[test]
fn an_unwritable_out_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "not a folder").unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        scenario("", "arrival = \"poisson\"\nrate = 1.0"),
    )
    .unwrap();
    let start = Instant::now();
    let e = stampede_in(
        dir.path(),
        &["run", "s.toml", "--out", "a-file/sub"],
        Duration::from_secs(30),
    );
    assert_eq!(e.code, Some(2), "{}", e.stderr);
    assert!(e.stderr.contains("nothing was sent"), "{}", e.stderr);
    assert!(start.elapsed() < Duration::from_secs(10));
    for command in ["compare", "plan"] {
        let e = stampede_in(
            dir.path(),
            &[
                command,
                "s.toml",
                "--strategy",
                "preset:aws-standard",
                "--strategy",
                "preset:gemini-cli",
                "--out",
                "a-file",
            ],
            Duration::from_secs(30),
        );
        assert_eq!(e.code, Some(2), "{command}: {}", e.stderr);
    }
}

#[test]
fn huge_values_are_not_repeated_whole() {
    let model = "m".repeat(1_000_000);
    let text = scenario("", "arrival = \"poisson\"\nrate = 1.0").replace(
        "profile = \"tier1\"",
        &format!("profile = \"tier1\"\nmodel = \"{model}\""),
    );
    let (_d, e) = run_scenario(&text, &["validate"], &[]);
    assert_eq!(e.code, Some(2), "{}", &e.stderr[..e.stderr.len().min(300)]);
    assert!(
        e.stderr.len() < 2000,
        "the message repeats the value: {} bytes",
        e.stderr.len()
    );
    assert!(e.stderr.contains("1000000 characters"), "{}", e.stderr);
}

#[test]
fn a_negative_diff_threshold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = stampede_in(
        dir.path(),
        &["diff", "a.json", "b.json", "--threshold", "p95=-5%"],
        Duration::from_secs(10),
    );
    assert_eq!(e.code, Some(2), "{}", e.stderr);
    assert!(e.stderr.contains("without a minus sign"), "{}", e.stderr);
}

#[test]
fn a_schedule_that_cannot_advance_in_virtual_time_is_an_error_not_a_hang() {
    // A closed loop with no think time, answered at once and never refused: the virtual clock
    // would never move.
    let text = "name = \"livelock\"\nduration = \"5s\"\n[target]\nkind = \"sim\"\nprofile = \"tier1\"\n\
        [target.mock]\nrpm = 0\ntpm = 0\nrpd = 0\nlatency = { dist = \"constant\", value = \"0s\" }\n\
        [traffic]\narrival = \"closed\"\nusers = 4\nthink = { dist = \"constant\", value = \"0s\" }\n";
    let (_d, e) = run_scenario(text, &["run"], &["-q"]);
    assert_eq!(e.code, Some(2), "{}", e.stderr);
    assert!(e.stderr.contains("cannot advance"), "{}", e.stderr);
}

#[test]
fn a_saved_summary_with_an_undecodable_histogram_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = crate::support::root().join("scenarios/quickstart.toml");
    let e = stampede_in(
        dir.path(),
        &[
            "run",
            quickstart.to_str().unwrap(),
            "--target",
            "sim",
            "--out",
            "run",
            "-q",
        ],
        Duration::from_secs(60),
    );
    assert!(matches!(e.code, Some(0 | 1)), "{}", e.stderr);
    let text = std::fs::read_to_string(dir.path().join("run/summary.json")).unwrap();
    let mut summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    summary["histograms"]["intervals"]["latency"][3] = serde_json::json!("AAAA");
    std::fs::write(dir.path().join("bad.json"), serde_json::to_string(&summary).unwrap()).unwrap();
    for args in [
        vec!["report", "bad.json", "--out", "re"],
        vec!["diff", "run/summary.json", "bad.json"],
    ] {
        let e = stampede_in(dir.path(), &args, Duration::from_secs(30));
        assert_eq!(e.code, Some(2), "{args:?}: {}", e.stderr);
        assert!(
            e.stderr.contains("histograms.intervals.latency[3]"),
            "{args:?}: {}",
            e.stderr
        );
    }
    // The untouched run re-renders.
    let e = stampede_in(
        dir.path(),
        &["report", "run/summary.json", "--out", "ok"],
        Duration::from_secs(30),
    );
    assert_eq!(e.code, Some(0), "{}", e.stderr);
}

#[test]
fn a_looped_trace_whose_rows_share_one_instant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..5)
        .map(|_| "{\"t\": 7, \"input_tokens\": 10, \"output_tokens\": 5}\n")
        .collect();
    std::fs::write(dir.path().join("t.jsonl"), rows).unwrap();
    let trace = "arrival = \"trace\"\ntrace = { file = \"t.jsonl\", format = \"jsonl\", loop = true }";
    std::fs::write(dir.path().join("s.toml"), scenario("", trace)).unwrap();
    let e = stampede_in(dir.path(), &["run", "s.toml", "-q"], Duration::from_secs(30));
    assert_eq!(e.code, Some(2), "{}", e.stderr);
    assert!(e.stderr.contains("one instant"), "{}", e.stderr);
}

#[test]
fn two_sigterms_end_a_live_run_at_once_with_its_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    // A live run against the mock whose answers take 30 s: only an abort ends it soon.
    let text = "name = \"sigterm\"\nduration = \"60s\"\n[target]\nkind = \"mock\"\nprofile = \"tier1\"\n\
        [target.mock]\nrpm = 0\ntpm = 0\nrpd = 0\nlatency = { dist = \"constant\", value = \"30s\" }\n\
        [traffic]\narrival = \"constant\"\nrate = 5.0\n[strategy]\nworkers = 4\n";
    std::fs::write(dir.path().join("s.toml"), text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", "s.toml", "--out", "out", "-q"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(500));
    let second = Instant::now();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            second.elapsed() < Duration::from_secs(5),
            "still running 5 s after the second SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("writing the partial report"), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap()).unwrap();
    let r = &summary["requests"];
    let count = |k: &str| r[k].as_u64().unwrap();
    assert!(count("scheduled") >= 5, "{r}");
    assert_eq!(
        count("scheduled"),
        count("succeeded") + count("failed") + count("dropped"),
        "{r}"
    );
    assert_eq!(summary["stopped_early"], "interrupted");
}
