//! The command line, in-process: exit codes, messages, outputs.

use crate::support::{assert_accounted, root, run_to, scenario, stampede, summary};

#[test]
fn validate_accepts_every_bundled_scenario() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = stampede(&["validate", path.to_str().unwrap()]);
            assert_eq!(o.code, 0, "{}: {}", path.display(), o.stderr);
            assert!(o.stdout.contains("valid"), "{}", o.stdout);
        }
    }
}

#[test]
fn validate_names_file_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    let broken = text.replace("workers = 16", "wokers = 16");
    let line = broken.lines().position(|l| l.starts_with("wokers")).unwrap() + 1;
    let path = scenario(dir.path(), "broken", &broken);
    let o = stampede(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    let expected = format!("{}:{line}:1: unknown field `wokers`", path.display());
    assert!(o.stderr.contains(&expected), "{}", o.stderr);
    // The same file given to `run` is refused the same way.
    let o = stampede(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains(&expected), "{}", o.stderr);
}

#[test]
fn bad_command_lines_exit_2() {
    assert_eq!(stampede(&["run"]).code, 2);
    assert_eq!(stampede(&["frobnicate"]).code, 2);
    let o = stampede(&["run", "no/such/file.toml"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no/such/file.toml"), "{}", o.stderr);
    let q = root().join("scenarios/quickstart.toml");
    let o = stampede(&["run", q.to_str().unwrap(), "--duration", "soon"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("expected a duration"), "{}", o.stderr);
    assert_eq!(stampede(&["--help"]).code, 0);
}

#[test]
fn simulated_quickstart_shows_429s_and_retries_and_misses_its_slo() {
    let out = tempfile::tempdir().unwrap();
    let (o, s) = run_to(
        &root().join("scenarios/quickstart.toml"),
        out.path(),
        &["--target", "sim"],
    );
    assert_eq!(o.code, 1, "the quickstart misses its success-rate SLO: {}", o.stderr);
    assert!(o.stderr.contains("SLO missed: success_rate"), "{}", o.stderr);
    assert_accounted(&s);
    assert_eq!(s["target"], "sim");
    assert_eq!(s["simulated"], true);
    // 25 s at 10/s with 120 RPM: the quota admits 120, the rest fail on 429s after retries.
    assert_eq!(s["requests"]["succeeded"], 120);
    assert!(s["attempts"]["status_429"].as_u64().unwrap() > 300);
    assert!(s["attempts"]["retries"].as_u64().unwrap() > 200);
    for f in [
        "summary.json",
        "summary.md",
        "timeseries.csv",
        "report.html",
        "latency.hlog",
    ] {
        assert!(out.path().join(f).exists(), "{f} missing");
    }
    // Every CSV column, found by its header name, agrees with the summary's series.
    let csv = std::fs::read_to_string(out.path().join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), stampede::report::CSV_COLUMNS.len());
    let rows: Vec<Vec<u64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let series = s["timeseries"].as_array().unwrap();
    assert_eq!(rows.len(), series.len());
    for (row, json) in rows.iter().zip(series) {
        assert_eq!(row.len(), header.len());
        for (name, value) in header.iter().zip(row) {
            assert_eq!(json[*name].as_u64(), Some(*value), "column {name} at second {}", row[0]);
        }
    }
    let column = |name: &str| {
        let i = header.iter().position(|h| *h == name).unwrap();
        rows.iter().map(move |r| r[i])
    };
    assert_eq!(
        column("offered").sum::<u64>(),
        s["requests"]["scheduled"].as_u64().unwrap()
    );
    assert_eq!(
        column("status_429").sum::<u64>(),
        s["attempts"]["status_429"].as_u64().unwrap()
    );
    // The per-second costs add up to the run's cost (each attempt rounded to a micro-dollar).
    let cost = column("cost_micro_usd").sum::<u64>() as f64 / 1e6;
    let total = s["cost_usd"].as_f64().unwrap();
    assert!(total > 0.1 && (cost - total).abs() < 1e-4, "{cost} vs {total}");
    // While the quota refuses everything, all 16 workers sit in retry backoffs.
    assert_eq!(column("workers_busy").max(), Some(16));
    let md = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(md.contains("| success_rate | ≥ 95.0% | 47.2% | ❌ missed |"), "{md}");
}

#[test]
fn same_seed_same_summary_in_sim() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let q = root().join("scenarios/quickstart.toml");
    let (_, mut x) = run_to(&q, a.path(), &["--target", "sim"]);
    let (_, mut y) = run_to(&q, b.path(), &["--target", "sim"]);
    for s in [&mut x, &mut y] {
        let o = s.as_object_mut().unwrap();
        o.remove("started_at");
        o.remove("wall_time_s");
    }
    assert_eq!(x, y);
    let c = tempfile::tempdir().unwrap();
    let (_, z) = run_to(&q, c.path(), &["--target", "sim", "--seed", "7"]);
    assert_ne!(x["latency_ms"], z["latency_ms"]);
}

#[test]
fn report_re_renders_a_saved_run_and_refuses_garbage() {
    let run = tempfile::tempdir().unwrap();
    run_to(
        &root().join("scenarios/quickstart.toml"),
        run.path(),
        &["--target", "sim"],
    );
    let again = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "report",
        run.path().join("summary.json").to_str().unwrap(),
        "--out",
        again.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for f in ["summary.md", "timeseries.csv", "report.html", "latency.hlog"] {
        let original = std::fs::read_to_string(run.path().join(f)).unwrap();
        let rerendered = std::fs::read_to_string(again.path().join(f)).unwrap();
        assert_eq!(original, rerendered, "{f} differs after re-rendering");
    }
    let junk = again.path().join("junk.json");
    std::fs::write(&junk, "{\"schema\": 3}").unwrap();
    let o = stampede(&["report", junk.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("junk.json:1:"), "{}", o.stderr);
    let _ = summary(run.path());
}

#[test]
fn report_html_is_self_contained() {
    let run = tempfile::tempdir().unwrap();
    run_to(
        &root().join("scenarios/quickstart.toml"),
        run.path(),
        &["--target", "sim"],
    );
    let html = std::fs::read_to_string(run.path().join("report.html")).unwrap();
    for needle in ["<script src", "<link ", "@import", "url(http", "src=\"http"] {
        assert!(!html.contains(needle), "report.html references the network: {needle}");
    }
    assert!(html.contains("<svg") && html.contains("latency (ms)"));
    assert!(html.contains("quickstart") && html.contains("FAIL"));
}

#[test]
fn an_unreachable_target_exits_3_and_a_missing_key_exits_2() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let q = root().join("scenarios/quickstart.toml");
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "unreachable",
        &std::fs::read_to_string(&q).unwrap().replace(
            "kind = \"mock\"",
            "kind = \"gemini\"\napi_key_env = \"STAMPEDE_TEST_KEY\"",
        ),
    );
    // Only this test reads this variable.
    std::env::set_var("STAMPEDE_TEST_KEY", "test-key");
    let o = stampede(&[
        "run",
        path.to_str().unwrap(),
        "--quiet",
        "--base-url",
        &url,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("unreachable"), "{}", o.stderr);
    assert!(!o.stderr.contains("test-key"));
    let missing = scenario(
        dir.path(),
        "nokey",
        &std::fs::read_to_string(&q).unwrap().replace(
            "kind = \"mock\"",
            "kind = \"gemini\"\napi_key_env = \"STAMPEDE_NO_SUCH_VAR\"",
        ),
    );
    let o = stampede(&["run", missing.to_str().unwrap(), "--quiet", "--base-url", &url]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("STAMPEDE_NO_SUCH_VAR"), "{}", o.stderr);
}

#[test]
fn every_bundled_scenario_runs_in_simulation() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let (o, s) = run_to(&path, out.path(), &["--target", "sim", "--duration", "60s"]);
        assert!(o.code == 0 || o.code == 1, "{}: {}", path.display(), o.stderr);
        assert_accounted(&s);
        assert!(s["requests"]["scheduled"].as_u64().unwrap() > 0, "{}", path.display());
    }
}

#[test]
fn cost_per_day_objective_scales_the_run_to_24_hours() {
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let check = |cap: f64| {
        let path = crate::support::scenario(dir.path(), "cost", &format!("{text}max_cost_per_day_usd = {cap}\n"));
        let (_, s) = run_to(&path, &dir.path().join("out"), &["--target", "sim"]);
        let c = s["slo"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "max_cost_per_day_usd")
            .unwrap()
            .clone();
        // 25 s of traffic: the day is 3,456 such windows.
        let per_day = s["cost_usd"].as_f64().unwrap() * 86_400.0 / 25.0;
        assert!((c["actual"].as_f64().unwrap() - per_day).abs() < 1e-6, "{c}");
        (per_day, c["pass"] == true)
    };
    let (per_day, pass) = check(1e6);
    assert!(pass && per_day > 100.0, "{per_day}");
    assert!(!check(per_day * 0.9).1);
}

/// Many runs against a billed API: compare refuses when all its runs together are estimated
/// above the cap, plan refuses outright; neither needs a key or the network to say so.
#[test]
fn compare_and_plan_refuse_to_spend_on_a_billed_api() {
    let path = root().join("scenarios/retry-storm.toml");
    let path = path.to_str().unwrap();
    let o = stampede(&["compare", path, "--target", "gemini", "--seeds", "3"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("12 runs") && o.stderr.contains("refusing to start") && o.stderr.contains("cap ($1.00)"),
        "{}",
        o.stderr
    );
    let o = stampede(&[
        "plan",
        root().join("scenarios/plan-mmc.toml").to_str().unwrap(),
        "--target",
        "openai",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("will not do that against a billed API"),
        "{}",
        o.stderr
    );
}

/// An OpenAI model is a valid scenario for the openai target, but the price table does not
/// know it: a billed run is refused unless a request bound makes up for the blind cap.
#[test]
fn a_billed_model_without_a_price_needs_a_request_bound() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"oa\"\nduration = \"5s\"\n[target]\nkind = \"openai\"\nmodel = \"gpt-4o-mini\"\n\
                base_url = \"https://api.openai.com/v1\"\n[traffic]\narrival = \"constant\"\nrate = 1\n";
    let path = scenario(dir.path(), "oa", text);
    let path = path.to_str().unwrap();
    assert_eq!(stampede(&["validate", path]).code, 0);
    let o = stampede(&["run", path]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("no price for gpt-4o-mini"), "{}", o.stderr);
    let o = stampede(&["run", path, "--max-requests", "3", "--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("3 requests") && o.stdout.contains("cost unknown"),
        "{}",
        o.stdout
    );
    // In sim the mock must serve the model, and says so.
    let o = stampede(&["run", path, "--target", "sim"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("does not serve model \"gpt-4o-mini\""),
        "{}",
        o.stderr
    );
}

/// The catalog is data, and `stampede catalog` shows it with its sources and dates; a Gemini 3
/// model is priced, so a billed run of it gets an estimate instead of a refusal.
#[test]
fn the_catalog_lists_gemini_3_with_prices_and_sources() {
    let o = stampede(&["catalog"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for needle in [
        "gemini-3-flash-preview         preview 2025-12-17                $0.50   $3.00",
        "gemini-3.5-flash               routed → gemini-3.6-flash         $1.50   $9.00",
        "tier1 (quota names of tier1) · monthly cap $250.00 · spend limit $10.00 per 10m",
        "https://ai.google.dev/gemini-api/docs/billing",
    ] {
        assert!(o.stdout.contains(needle), "{needle}\n{}", o.stdout);
    }
    let json: serde_json::Value = serde_json::from_str(&stampede(&["catalog", "--json"]).stdout).unwrap();
    assert_eq!(json["models"]["gemini-3-flash-preview"]["cached_input"], 0.05);
    // A file extends it: a model of one's own, priced.
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.toml");
    std::fs::write(
        &mine,
        "[models.\"my-tuned-flash\"]\ndisplay_name = \"Mine\"\ninput_token_limit = 1000000\noutput_token_limit = 8192\ninput = 0.4\noutput = 2.0\nsource = \"our contract\"\nread = \"2026-11-29\"\n",
    )
    .unwrap();
    let o = stampede(&["catalog", "--file", mine.to_str().unwrap()]);
    assert!(
        o.stdout.contains("my-tuned-flash") && o.stdout.contains("gemini-3-flash-preview"),
        "{}",
        o.stdout
    );
    std::fs::write(&mine, "[models.x]\ninput = \"cheap\"\n").unwrap();
    assert_eq!(stampede(&["catalog", "--file", mine.to_str().unwrap()]).code, 2);
    // A billed dry run of a Gemini 3 scenario is priced.
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml"))
        .unwrap()
        .replace("model = \"gemini-2.5-flash\"", "model = \"gemini-3-flash-preview\"");
    let path = crate::support::scenario(dir.path(), "g3", &text);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", path.to_str().unwrap(), "--target", "gemini", "--dry-run"])
        .env("GEMINI_API_KEY", "test-not-sent")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains("≈ $0.") && all.contains("--dry-run: nothing was sent"),
        "{all}"
    );
}

#[test]
fn a_catalog_file_puts_a_projects_own_models_limits_and_prices_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("our-catalog.toml");
    std::fs::write(
        &catalog,
        r#"
[models."my-tuned-flash"]
display_name = "Ours"
input_token_limit = 1000000
output_token_limit = 8192
input = 1.0
output = 4.0
source = "our contract"
read = "2026-11-29"

[tiers.ourproject]
tier = "tier1"
spend_limit_usd = 5.0
spend_window = "10m"
source = "AI Studio, our project's rate-limit page"
read = "2026-11-29"
[tiers.ourproject.limits]
"my-tuned-flash" = { rpm = 120, tpm = 400000, rpd = 0 }
"#,
    )
    .unwrap();
    let text = r#"
name = "ours"
duration = "10s"
catalog = "our-catalog.toml"

[target]
kind = "sim"
model = "my-tuned-flash"
profile = "ourproject"

[traffic]
arrival = "constant"
rate = 20
input_tokens = 1000
output_tokens = 100

[strategy]
workers = 8
"#;
    let path = crate::support::scenario(dir.path(), "ours", text);
    // In its own process: the catalog it puts in force must not leak into other tests.
    let out = dir.path().join("out");
    let o =
        crate::support::stampede_process(&["run", path.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]);
    let s = crate::support::summary(&out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // 200 requests, 120 a minute admitted; each costs 1,000 × $1/M + 100 × $4/M = $0.0014.
    assert_eq!(s["requests"]["succeeded"], 120);
    assert!(
        (s["cost_usd"].as_f64().unwrap() - 120.0 * 0.0014).abs() < 1e-9,
        "{}",
        s["cost_usd"]
    );
    assert_eq!(s["mock_profile"]["spend_limit"]["usd"], 5.0);
    // The same file as a flag; a missing one is a clear error.
    let o = crate::support::stampede_process(&[
        "validate",
        path.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o =
        crate::support::stampede_process(&["validate", path.to_str().unwrap(), "--catalog", "no-such-catalog.toml"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("--catalog") && o.stderr.contains("no-such-catalog.toml"),
        "{}",
        o.stderr
    );
    let broken = text.replace("our-catalog.toml", "missing.toml");
    let path = crate::support::scenario(dir.path(), "broken", &broken);
    let o = crate::support::stampede_process(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("broken.toml:4:11: catalog") && o.stderr.contains("missing.toml"),
        "{}",
        o.stderr
    );
}
