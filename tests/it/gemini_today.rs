//! Gemini as it is today: implicit context caching billed at the cached price (run, report,
//! plan), and the Flex and Priority service tiers against Standard.

use crate::support::{assert_accounted, root, run_to, scenario, stampede};

#[test]
fn a_shared_system_prompt_is_cached_and_billed_at_the_cached_price() {
    let dir = tempfile::tempdir().unwrap();
    let (o, s) = run_to(
        &root().join("scenarios/prompt-cache.toml"),
        &dir.path().join("run"),
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_accounted(&s);
    let n = s["requests"]["succeeded"].as_u64().unwrap();
    assert!(n > 1000, "{n}");
    // Every answer after the first hits the 2,000-token prefix (Gemini 3 Flash's minimum is
    // 1,024); the system prompt is part of the planned and the counted input.
    let t = &s["tokens"];
    assert_eq!(t["cached"].as_u64().unwrap(), (n - 1) * 2000, "{t}");
    assert_eq!(t["input"], t["planned_input"]);
    // Billed by what it is: fresh input at $0.50/M, cached at $0.05/M, output at $3/M.
    let fresh = t["input"].as_u64().unwrap() - t["cached"].as_u64().unwrap();
    let c = &s["cost_split"];
    let close = |a: f64, b: f64| (a - b).abs() < 2e-6;
    assert!(
        close(c["fresh_input_usd"].as_f64().unwrap(), fresh as f64 * 0.50 / 1e6),
        "{c}"
    );
    assert!(
        close(
            c["cached_input_usd"].as_f64().unwrap(),
            (n - 1) as f64 * 2000.0 * 0.05 / 1e6
        ),
        "{c}"
    );
    assert!(
        close(
            c["output_usd"].as_f64().unwrap(),
            t["output"].as_f64().unwrap() * 3.0 / 1e6
        ),
        "{c}"
    );
    assert!(
        close(
            c["cache_saving_usd"].as_f64().unwrap(),
            (n - 1) as f64 * 2000.0 * 0.45 / 1e6
        ),
        "{c}"
    );
    let parts: f64 = ["fresh_input_usd", "cached_input_usd", "output_usd", "thinking_usd"]
        .iter()
        .map(|k| c[*k].as_f64().unwrap())
        .sum();
    assert!(
        close(parts, s["cost_usd"].as_f64().unwrap()),
        "{parts} vs {}",
        s["cost_usd"]
    );
    // The page says so.
    let html = std::fs::read_to_string(dir.path().join("run/report.html")).unwrap();
    assert!(html.contains("of the input, cached") && html.contains("saved by caching"));

    // On gemini-2.5-flash the minimum is 2,048 tokens: the same prompt is not cached at all.
    let text = std::fs::read_to_string(root().join("scenarios/prompt-cache.toml"))
        .unwrap()
        .replace("gemini-3-flash-preview", "gemini-2.5-flash")
        .replace("duration = \"2m\"", "duration = \"20s\"");
    let path = scenario(dir.path(), "flash-25", &text);
    let (_, s) = run_to(&path, &dir.path().join("flash-25"), &[]);
    assert_eq!(s["tokens"]["cached"], 0);
    assert_eq!(s["cost_split"]["cache_saving_usd"], 0.0);
}

#[test]
fn the_plan_prices_its_candidates_with_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "plan",
        root().join("scenarios/prompt-cache.toml").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--duration",
        "1m",
        "--no-probe",
        "--no-growth",
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap()).unwrap();
    let hour = json["recommendation"]["cost_usd"]["hour"].as_f64().unwrap();
    // 10 requests a second, each ≈ 2,000 cached tokens ($0.0001), ~150 fresh ($0.000075) and
    // ~150 output ($0.00045): about $22 an hour; uncached the prompt alone would add $32.
    assert!((15.0..30.0).contains(&hour), "{hour}");
}

#[test]
fn flex_and_priority_against_standard_on_the_same_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let o = stampede(&[
        "compare",
        root().join("scenarios/service-tiers.toml").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--duration",
        "5m",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("compare.json")).unwrap()).unwrap();
    let by = |name: &str| {
        json["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let (standard, tiered) = (by("standard"), by("tiered"));
    assert!(standard.get("service_tiers").is_none(), "all standard: no tier table");
    let tiers = &tiered["service_tiers"];
    // Flex is half price, Priority twice: the tiered plan costs less with most traffic on Flex.
    let cost = |s: &serde_json::Value| s["cost_usd"].as_f64().unwrap();
    assert!(
        cost(&tiered) < 0.8 * cost(&standard),
        "{} vs {}",
        cost(&tiered),
        cost(&standard)
    );
    assert!(tiers["flex"]["answered"].as_u64().unwrap() > 0, "{tiers}");
    // Priority's own limit (300 a minute) is passed in the bursts: some are served at Standard.
    let p = &tiers["priority"];
    assert!(p["downgraded"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(tiers["standard"]["answered"], p["downgraded"]);
    // Interactive answers come sooner; background ones later (Flex waits for spare capacity).
    let lane = |s: &serde_json::Value, l: &str, q: &str| s["lanes"][l]["latency_ms"][q].as_f64().unwrap();
    assert!(lane(&tiered, "interactive", "p99") < lane(&standard, "interactive", "p99"));
    assert!(lane(&tiered, "background", "p50") > lane(&standard, "background", "p50"));
}

#[test]
fn a_pinned_prefix_is_served_from_an_explicit_cache_in_sim_and_over_http() {
    // Gemini 3.1 Pro Preview: a 5,000-token system prompt pinned to an explicit cache. Every request
    // names the cache (the first too, unlike implicit caching), and the cache's creation (at the
    // input price) and storage for the window plus ten minutes ($4.50 per 1M token-hours) are
    // part of the cost.
    let text = std::fs::read_to_string(root().join("scenarios/prompt-cache.toml"))
        .unwrap()
        .replace("gemini-3-flash-preview", "gemini-3.1-pro-preview")
        .replace("system_prompt_tokens = 2000", "system_prompt_tokens = 5000")
        .replace("duration = \"2m\"", "duration = \"2s\"")
        .replace("[strategy]\n", "[strategy]\npin_prefix = [\"support\"]\n");
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "pinned", &text);
    for target in ["sim", "mock"] {
        let (_, s) = run_to(&path, &dir.path().join(target), &["--target", target]);
        assert_accounted(&s);
        let n = s["requests"]["succeeded"].as_u64().unwrap();
        assert!(n > 10, "{target}: {n}");
        assert_eq!(
            s["tokens"]["cached"].as_u64().unwrap(),
            n * 5000,
            "{target}: {}",
            s["tokens"]
        );
        let storage = s["cost_split"]["cache_storage_usd"].as_f64().unwrap();
        let want = 5000.0 / 1e6 * 2.0 + 5000.0 / 1e6 * (602.0 / 3600.0) * 4.50;
        assert!((storage - want).abs() < 1e-6, "{target}: {storage} vs {want}");
        let c = &s["cost_split"];
        let answers: f64 = ["fresh_input_usd", "cached_input_usd", "output_usd", "thinking_usd"]
            .iter()
            .map(|k| c[*k].as_f64().unwrap())
            .sum();
        assert!(
            (answers + storage - s["cost_usd"].as_f64().unwrap()).abs() < 2e-6,
            "{target}: {c}"
        );
    }
    // A model without a storage price is still served from the cache; the cost says what it
    // leaves out.
    let flash = text.replace("gemini-3.1-pro-preview", "gemini-3.8-flash");
    let path = scenario(dir.path(), "pinned-flash", &flash);
    let (_, s) = run_to(&path, &dir.path().join("flash"), &[]);
    assert!(s["cost_split"]["cache_storage_usd"].is_null());
    let warned = s["advice"]["warnings"].as_array().unwrap().iter().any(|w| {
        w["kind"] == "pinned_cache"
            && w["message"]
                .as_str()
                .unwrap()
                .contains("storage price of gemini-3.8-flash")
    });
    assert!(warned, "{}", s["advice"]["warnings"]);
}
