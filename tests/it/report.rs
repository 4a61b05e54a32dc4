//! The report: advice read from real runs, summary.md against a reviewed golden file, the HTML
//! page's structure, and the page rendered by a browser (Chromium; required when `CI` is set,
//! as .ci/run installs it).
//!
//! `STAMPEDE_BLESS=1 cargo test --test integration report::` rewrites the golden files after a
//! deliberate change; review the diff before committing it.

use std::path::Path;

use serde_json::Value;

use crate::support::{root, run_to, stampede};

fn quickstart(out: &Path) -> (crate::support::Outcome, Value) {
    run_to(&root().join("scenarios/quickstart.toml"), out, &["--target", "sim"])
}

fn recommendation<'a>(s: &'a Value, setting: &str) -> &'a Value {
    s["advice"]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == setting)
        .unwrap_or_else(|| panic!("no {setting} recommendation in {}", s["advice"]))
}

fn warning<'a>(s: &'a Value, kind: &str) -> Option<&'a str> {
    s["advice"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == kind)
        .map(|w| w["message"].as_str().unwrap())
}

#[test]
fn quickstart_advice_follows_from_its_figures() {
    let out = tempfile::tempdir().unwrap();
    let (o, s) = quickstart(out.path());
    // The quota (120 RPM) binds: the workers advised are Little's law at the busiest rate
    // while a minute's quota lasts — each answer holding a worker for one service time (the
    // 429s return at once), plus 25% headroom — fewer than the run had.
    let peak = s["throughput"]["peak_offered_10s"].as_f64().unwrap() / 10.0;
    let service_s = s["service_ms"]["mean"].as_f64().unwrap() / 1000.0;
    let sent = s["requests"]["scheduled"].as_f64().unwrap() - s["requests"]["dropped"].as_f64().unwrap();
    let per_request = s["attempts"]["total"].as_f64().unwrap() / sent;
    assert!(
        (0.7..0.9).contains(&service_s) && (2.0..3.0).contains(&per_request),
        "{service_s} {per_request}"
    );
    let expected = (peak * service_s * 1.25).ceil();
    let workers = recommendation(&s, "workers");
    assert_eq!(workers["value"], expected.to_string());
    assert_eq!(workers["current"], "16");
    let why = workers["why"].as_str().unwrap();
    assert!(
        why.contains("requests-per-minute quota (RPM) binds") && why.contains("only collect 429s"),
        "{why}"
    );
    // The fix that matters leads the warnings: the quota it would need.
    let first = &s["advice"]["warnings"][0];
    assert_eq!(first["kind"], "quota_too_small");
    let offered = s["throughput"]["offered_rps"].as_f64().unwrap();
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains(&format!("needs a quota of at least {} RPM", (offered * 60.0).ceil())),
        "{first}"
    );
    // Traffic above the quota on average: no client limiter can help, so none is recommended.
    assert!(s["advice"]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["setting"] != "rate_limit"));
    // Every 429 carried a RetryInfo delay the client did not honour.
    assert_eq!(s["attempts"]["status_429_with_delay"], s["attempts"]["status_429"]);
    assert_eq!(recommendation(&s, "retry")["value"], "{ honor_retry_delay = true }");
    // The warnings carry the run's own figures.
    let a = &s["attempts"];
    let retries = warning(&s, "retries").expect("retries warning");
    let share = (100.0 * a["retries"].as_f64().unwrap() / a["total"].as_f64().unwrap()).round();
    assert!(
        retries.contains(&format!("{share}% of attempts ({} of {})", a["retries"], a["total"])),
        "{retries}"
    );
    assert!(warning(&s, "quota_too_small").unwrap().contains("quota of 120 RPM"));
    assert!(warning(&s, "queue_not_drained").is_some());
    // The terminal and summary.md show them too.
    assert!(
        o.stdout
            .contains(&format!("  workers          {expected}   (this run: 16)")),
        "{}",
        o.stdout
    );
    let md = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(
        md.contains("### What to change") && md.contains(&format!("| `workers` | `{expected}` | `16` |")),
        "{md}"
    );
}

#[test]
fn lanes_advice_names_the_starved_lane() {
    let out = tempfile::tempdir().unwrap();
    let (_, s) = run_to(&root().join("scenarios/lanes.toml"), out.path(), &["--target", "sim"]);
    let interactive = &s["lanes"]["interactive"];
    let batch = &s["lanes"]["batch"];
    // One FIFO queue: the batch bursts hold the workers while interactive deadlines run out.
    assert_eq!(batch["dropped"], 0);
    assert!(interactive["dropped"].as_u64().unwrap() > 100, "{interactive}");
    let lost = warning(&s, "lane_lost").expect("lane_lost warning");
    assert!(
        lost.starts_with(&format!(
            "Lane interactive lost {} of {} requests",
            interactive["dropped"].as_u64().unwrap() + interactive["failed"].as_u64().unwrap(),
            interactive["scheduled"]
        )),
        "{lost}"
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("End-to-end latency by lane"));
    // 600 s of traffic are plotted in 5 s bins, not 600 per-second points.
    assert!(html.contains("Requests per second (mean over 5 s bins)"));
    let md = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(
        md.contains("### Lanes") && md.contains("| interactive | 1,298 |"),
        "{md}"
    );
}

/// The summary with its wall-clock fields fixed, so its rendering is reproducible.
fn without_wall_clock(mut s: Value) -> stampede::summary::Summary {
    s["started_at"] = Value::from("2026-01-01T00:00:00Z");
    s["wall_time_s"] = Value::from(0.25);
    // The catalog in force is one per process, and another test of this binary may install
    // one: the page says the embedded catalog's name as a lone run would.
    s["catalog"] = Value::from("stampede's catalog of 2026-12-03");
    serde_json::from_value(s).expect("summary.json reads back")
}

#[test]
fn summary_md_matches_the_reviewed_golden_file() {
    let out = tempfile::tempdir().unwrap();
    let (_, s) = quickstart(out.path());
    assert_golden(
        "quickstart.summary.md",
        &stampede::report::markdown(&without_wall_clock(s)),
    );
}

/// Compares `actual` with `tests/golden/NAME`; `STAMPEDE_BLESS=1` rewrites the file instead.
fn assert_golden(name: &str, actual: &str) {
    let golden = root().join("tests/golden").join(name);
    if std::env::var_os("STAMPEDE_BLESS").is_some() {
        std::fs::write(&golden, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file (STAMPEDE_BLESS=1 writes it)");
    assert_eq!(
        actual, expected,
        "{name} changed; review the difference and rerun with STAMPEDE_BLESS=1"
    );
}

/// The page's skeleton: key-figure cards, headings, table headers, and each chart's texts other than tick
/// numbers (title, axis labels, legend), one per line.
fn html_structure(html: &str) -> String {
    let text_of = |s: &str| s.split('<').next().unwrap_or("").trim().to_string();
    let mut out = Vec::new();
    for (i, _) in html.match_indices('<') {
        let rest = &html[i..];
        if let Some(label) = rest.strip_prefix("<div class=\"label\">") {
            out.push(format!("card {}", text_of(label)));
        } else if let Some(h) = rest.strip_prefix("<h2>") {
            out.push(format!("h2 {}", text_of(h)));
        } else if rest.starts_with("<tr><th>") {
            let row = &rest[..rest.find("</tr>").unwrap_or(rest.len())];
            let cells: Vec<String> = row.split("<th>").skip(1).map(text_of).collect();
            out.push(format!("table {}", cells.join(" | ")));
        } else if rest.starts_with("<svg") {
            out.push("svg".into());
        } else if rest.starts_with("<text") {
            let inner = text_of(&rest[rest.find('>').map_or(0, |j| j + 1)..]);
            let tick = inner.chars().all(|c| c.is_ascii_digit() || ".,%-".contains(c));
            if !tick {
                out.push(format!("  text {inner}"));
            }
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn report_html_structure_matches_the_reviewed_golden_file() {
    let out = tempfile::tempdir().unwrap();
    quickstart(out.path());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert_golden("quickstart.report-structure.txt", &html_structure(&html));
}

#[test]
fn report_html_has_every_plot_with_labelled_axes() {
    let out = tempfile::tempdir().unwrap();
    let (_, s) = quickstart(out.path());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    // plotters writes each SVG text on its own line: `>\nTEXT\n<`.
    let count = |needle: &str| html.matches(needle).count();
    for title in [
        "End-to-end latency by percentile",
        "Queue wait by percentile",
        "Service time by percentile",
        "End-to-end latency of answered requests",
        "Requests per second",
        "429s, other errors and retries per second",
        "In flight and queued",
        "Workers (end of each second)",
        "Tokens per second",
        "Cost so far",
    ] {
        assert_eq!(count(&format!(">\n{title}")), 1, "{title}");
    }
    // No streaming: time to first token equals end to end and is not drawn; no breaker, no
    // breaker chart; one lane, no lane chart.
    assert_eq!(s["requests"]["streamed"], 0);
    for absent in [
        "Time to first token by percentile",
        "Circuit breakers",
        "latency by lane",
    ] {
        assert_eq!(count(absent), 0, "{absent}");
    }
    assert_eq!(count("<svg"), 10);
    assert_eq!(count(">\npercentile (log scale of nines)\n<"), 3);
    assert_eq!(count(">\ntime since start (s)\n<"), 6);
    // Every spectrum goes as far as its samples reach (n samples: 1 - 1/n) and no further; the
    // quickstart's few hundred answers reach 99% and not 99.9%. The SLO's p95 target is drawn.
    let answered = s["requests"]["succeeded"].as_u64().unwrap();
    assert!((100..1_000).contains(&answered), "{answered}");
    assert_eq!(count(">\n99%\n<"), 3);
    assert_eq!(count(">\n99.9%\n<") + count(">\n99.99%\n<"), 0);
    assert_eq!(count(">\nSLO p95\n<"), 1);
    // The advice, in the page.
    let workers = recommendation(&s, "workers")["value"].as_str().unwrap().to_string();
    assert!(html.contains("<h2>What to change</h2>") && html.contains(&format!("workers = {workers}<")));
}

#[test]
fn report_re_renders_old_summaries_without_advice() {
    let run = tempfile::tempdir().unwrap();
    let (_, mut s) = quickstart(run.path());
    // A summary written before advice and interval histograms existed still renders.
    let o = s.as_object_mut().unwrap();
    o.remove("advice");
    o["histograms"].as_object_mut().unwrap().remove("intervals");
    let old = run.path().join("old.json");
    std::fs::write(&old, serde_json::to_string(&s).unwrap()).unwrap();
    let again = tempfile::tempdir().unwrap();
    let r = stampede(&["report", old.to_str().unwrap(), "--out", again.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(again.path().join("report.html"))
        .unwrap()
        .contains("quickstart"));
}

#[test]
fn png_export_writes_every_chart() {
    let out = tempfile::tempdir().unwrap();
    let o = crate::support::stampede(&[
        "run",
        root().join("scenarios/quickstart.toml").to_str().unwrap(),
        "--target",
        "sim",
        "--quiet",
        "--png",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    if o.stderr.contains("no fonts found") {
        eprintln!("png_export_writes_every_chart: no system fonts, skipped");
        return;
    }
    assert_eq!(
        o.code, 1,
        "the quickstart misses its SLO; the PNGs do not change that: {}",
        o.stderr
    );
    let mut names: Vec<String> = std::fs::read_dir(out.path().join("png"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(names[0], "01-end-to-end-latency-by-percentile.png");
    for n in &names {
        let bytes = std::fs::read(out.path().join("png").join(n)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
            "{n}: {} bytes",
            bytes.len()
        );
    }
    assert!(o.stdout.contains("wrote 10 charts to"), "{}", o.stdout);
}

/// Merges `from` into `into`, table by table.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[test]
fn following_the_quickstart_advice_answers_as_many_with_fewer_attempts() {
    let before = tempfile::tempdir().unwrap();
    let (_, s) = quickstart(before.path());
    // Every recommendation is a `[strategy]` line in scenario syntax: paste them all in.
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    let strategy = doc["strategy"].as_table_mut().unwrap();
    for r in s["advice"]["recommendations"].as_array().unwrap() {
        let line = format!("{} = {}", r["setting"].as_str().unwrap(), r["value"].as_str().unwrap());
        merge(
            strategy,
            toml::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}")),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let advised = crate::support::scenario(dir.path(), "advised", &toml::to_string(&doc).unwrap());
    let (_, after) = run_to(&advised, &dir.path().join("out"), &["--target", "sim"]);
    let n = |s: &Value, group: &str, key: &str| s[group][key].as_u64().unwrap();
    // The quota caps what any plan gets answered in 25 s; the advice keeps all of it and stops
    // spending attempts on refusals.
    assert_eq!(n(&after, "requests", "succeeded"), n(&s, "requests", "succeeded"));
    assert!(
        n(&after, "attempts", "total") * 2 < n(&s, "attempts", "total"),
        "{} vs {}",
        after["attempts"],
        s["attempts"]
    );
    assert!(n(&after, "attempts", "status_429") * 2 < n(&s, "attempts", "status_429"));
    // With fewer workers (sized for the busiest rate, 25% headroom) a few answers queue
    // briefly: p95 stays within 10% of the run with every worker it had.
    let p95 = |s: &Value| s["latency_ms"]["p95"].as_f64().unwrap();
    assert!(p95(&after) <= 1.1 * p95(&s), "{} vs {}", p95(&after), p95(&s));
}
