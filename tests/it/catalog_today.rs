//! The catalog as of December 2026 through the CLI: today's models priced from their sources,
//! a shut-down model refused with its replacement, deprecated and preview models warned about,
//! a model without a price given the snippet that adds one, and thinking levels on the wire.

use crate::support::{run_to, scenario, stampede};

/// A 60-second, 5-per-second sim scenario on `model` with extra `[target]` lines.
fn on(dir: &std::path::Path, model: &str, target_extra: &str) -> std::path::PathBuf {
    scenario(
        dir,
        "today",
        &format!(
            "name = \"today\"\nduration = \"60s\"\n[target]\nkind = \"sim\"\nmodel = \"{model}\"\n{target_extra}\n\
             [traffic]\narrival = \"poisson\"\nrate = 5\ninput_tokens = 1000\noutput_tokens = 300\n"
        ),
    )
}

#[test]
fn the_catalog_lists_today_s_models_with_status_and_sources() {
    let o = stampede(&["catalog"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for line in [
        "catalog checked against its sources on 2026-12-03",
        "gemini-3.8-flash",
        "GA 2026-09-02",
        "routed → gemini-3.6-flash",
        "shut down 2026-06-01",
        "gemini-3.8-flash prices change on 2027-01-01",
        "gemini-3.5-flash, status: https://ai.google.dev/gemini-api/docs/changelog",
    ] {
        assert!(o.stdout.contains(line), "missing {line:?} in:\n{}", o.stdout);
    }
}

#[test]
fn a_dry_run_on_gemini_3_5_flash_is_priced_at_its_list_prices() {
    let dir = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "run",
        on(dir.path(), "gemini-3.5-flash", "").to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The seeded schedule's count, priced by hand: $1.50 per 1M input, $9.00 per 1M output.
    let n: f64 = o
        .stdout
        .split(" requests")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    let by_hand = n * (1000.0 * 1.50 + 300.0 * 9.00) / 1e6;
    assert!(
        o.stdout.contains(&format!("≈ ${by_hand:.4} at list prices")),
        "{by_hand}: {}",
        o.stdout
    );
    assert!(
        o.stdout.contains("priced by stampede's catalog of 2026-12-03"),
        "{}",
        o.stdout
    );
    // Deprecated and routed: said, with its date and replacement.
    assert!(
        o.stdout
            .contains("warning: Model status: gemini-3.5-flash is deprecated: since 2026-10-08"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_shut_down_model_is_refused_naming_the_shutdown_and_the_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "run",
        on(dir.path(), "gemini-2.0-flash", "").to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr.contains("gemini-2.0-flash was shut down on 2026-06-01"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("use gemini-3.1-flash-lite instead"), "{}", o.stderr);
    let v = stampede(&["validate", on(dir.path(), "gemini-3-pro-preview", "").to_str().unwrap()]);
    assert_eq!(v.code, 2, "{}", v.stdout);
    assert!(v.stderr.contains("gemini-3.1-pro-preview"), "{}", v.stderr);
}

#[test]
fn a_preview_model_warns_in_the_run_s_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (o, s) = run_to(
        &on(dir.path(), "gemini-3-flash-preview", "thinking_level = \"low\""),
        &dir.path().join("out"),
        &[],
    );
    let warnings = s["advice"]["warnings"].to_string();
    assert!(
        warnings.contains("gemini-3-flash-preview is a preview (since 2025-12-17)"),
        "{warnings}"
    );
    assert!(
        o.stdout.contains("priced by stampede's catalog of 2026-12-03"),
        "{}",
        o.stdout
    );
    assert!(s["catalog"]
        .as_str()
        .unwrap()
        .starts_with("stampede's catalog of 2026-12-03"));
}

#[test]
fn a_thinking_level_bills_the_documented_share_of_thinking() {
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = run_to(
        &on(dir.path(), "gemini-3.8-flash", "thinking_level = \"medium\""),
        &dir.path().join("out"),
        &[],
    );
    let t = &s["tokens"];
    // Medium: 2.5 thinking tokens per answer token, billed as output ($3.75 per 1M today).
    assert_eq!(
        t["thinking"].as_u64().unwrap(),
        t["output"].as_u64().unwrap() * 5 / 2,
        "{t}"
    );
    let thinking_usd = s["cost_split"]["thinking_usd"].as_f64().unwrap();
    let by_hand = t["thinking"].as_f64().unwrap() * 3.75 / 1e6;
    assert!((thinking_usd - by_hand).abs() < 1e-5, "{thinking_usd} vs {by_hand}");
    // Without a level, a model that thinks by default is called out.
    let (_, s) = run_to(&on(dir.path(), "gemini-3.8-flash", ""), &dir.path().join("out2"), &[]);
    assert!(
        s["advice"]["warnings"]
            .to_string()
            .contains("thinks at MEDIUM by default"),
        "{}",
        s["advice"]
    );
}

#[test]
fn a_level_the_model_refuses_or_a_level_with_a_budget_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "validate",
        on(dir.path(), "gemini-3.8-flash", "thinking_level = \"minimal\"")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("accepts low, medium, high"), "{}", o.stderr);
    let both = "thinking_level = \"low\"\nthinking_budget = 100";
    let o = stampede(&["validate", on(dir.path(), "gemini-3.6-flash", both).to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("not both"), "{}", o.stderr);
}

#[test]
fn a_model_without_a_price_gets_the_snippet_that_adds_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(on(dir.path(), "my-fine-tune", "")).unwrap();
    let path = scenario(
        dir.path(),
        "unpriced",
        &text.replace("kind = \"sim\"", "kind = \"gemini\""),
    );
    let o = stampede(&["run", path.to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("[models.\"my-fine-tune\"]") && o.stdout.contains("input = USD_PER_1M_INPUT_TOKENS"),
        "{}",
        o.stdout
    );
}

/// `stampede catalog check --base-url MOCK` through the real binary, with `key` in the
/// environment: (exit code, stdout + stderr).
fn catalog_check(base_url: &str, key: &str, extra: &[&str]) -> (Option<i32>, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["catalog", "check", "--base-url", base_url])
        .args(extra)
        .env("GEMINI_API_KEY", key)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), all)
}

#[test]
fn catalog_check_against_the_mock_finds_both_differences_and_agrees_when_equal() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk-catalog-check-3e9d1a";
    let spawn = |extra: &str| {
        let path = dir.path().join("mock.toml");
        std::fs::write(&path, format!("preset = \"tier1\"\napi_keys = [\"{key}\"]\n{extra}")).unwrap();
        stampede::commands::hosting::spawn_mock(std::path::Path::new(env!("CARGO_BIN_EXE_stampede")), &path, 5).unwrap()
    };
    // The same models as the catalog: exit 0.
    let (_plain, url) = spawn("");
    let (code, out) = catalog_check(&url, key, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the catalog agrees with the API"), "{out}");
    // The API serves a model the catalog lacks, and the catalog (extended by a file) has one
    // the API does not list: both said, exit 1; the key is never printed.
    let (_extra, url) = spawn("[models.\"gemini-3.9-flash\"]\nrpm = 100\ntpm = 1000000\nrpd = 1000\n");
    let mine = dir.path().join("mine.toml");
    std::fs::write(
        &mine,
        "[models.\"my-tuned-flash\"]\ndisplay_name = \"Mine\"\ninput_token_limit = 1000000\noutput_token_limit = 8192\n\
         input = 0.4\noutput = 2.0\nsource = \"our contract\"\nread = \"2026-12-01\"\n",
    )
    .unwrap();
    let (code, out) = catalog_check(&url, key, &["--catalog", mine.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("listed, not in the catalog: gemini-3.9-flash"), "{out}");
    assert!(out.contains("in the catalog, not listed: my-tuned-flash"), "{out}");
    assert!(!out.contains(key), "{out}");
    // A wrong key is the API's refusal (exit 3), still without the key.
    let (code, out) = catalog_check(&url, "sk-wrong-key-000", &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(!out.contains("sk-wrong-key-000"), "{out}");
}
