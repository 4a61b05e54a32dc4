//! `stampede compare`: identical traffic for every strategy, figures per strategy, the outputs.

use serde_json::Value;

use crate::support::{assert_accounted, root, run_to, scenario, stampede};

fn compare_json(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap()
}

fn metric(strategy: &Value, key: &str) -> f64 {
    strategy["metrics"][key]["mean"]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {}", strategy["name"]))
}

#[test]
fn retry_compare_runs_every_preset_on_identical_requests() {
    let out = tempfile::tempdir().unwrap();
    let path = root().join("scenarios/retry-compare.toml");
    let o = stampede(&[
        "compare",
        path.to_str().unwrap(),
        "--duration",
        "3m",
        "--seeds",
        "2",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c = compare_json(out.path());
    assert_eq!(c["schema"], "stampede.compare/v1");
    assert_eq!(c["seeds"], serde_json::json!([12, 13]));
    let strategies = c["strategies"].as_array().unwrap();
    let names: Vec<&str> = strategies.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "google-genai-default",
            "google-genai-retry",
            "gemini-cli",
            "aws-standard",
            "aws-adaptive",
            "grpc-throttled",
            "exponential-full-jitter"
        ]
    );
    // The same requests for every strategy: the same count scheduled, seed by seed.
    let scheduled = |s: &Value| s["requests"]["scheduled"].as_u64().unwrap();
    assert!(strategies.iter().all(|s| scheduled(s) == scheduled(&strategies[0])));
    // Each entry carries the summary figures of its first seed beside its name.
    for s in strategies {
        assert_eq!(s["schema"], "stampede.summary/v1");
        assert_accounted(s);
        for key in ["attempts", "latency_ms", "throughput", "tokens", "lanes", "strategy"] {
            assert!(s[key].is_object(), "{key} in {}", s["name"]);
        }
        assert!(s["cost_usd"].is_f64());
    }
    let text = std::fs::read_to_string(out.path().join("compare.json")).unwrap();
    let back: stampede::commands::compare::Comparison = serde_json::from_str(&text).expect("compare.json reads back");
    assert_eq!(back.strategies.len(), 7);
    for s in strategies {
        let values = s["metrics"]["success_rate"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 2, "one value per seed");
        assert!(
            s["metrics"]["success_rate"]["ci95"].is_f64(),
            "two seeds give an interval"
        );
    }
    // No retries at all for the SDK default; every retrying client sends more attempts than
    // requests, and answers more of them.
    let default = &strategies[0];
    assert_eq!(metric(default, "retries"), 0.0);
    assert!(metric(default, "attempts_per_request") <= 1.0);
    for s in &strategies[1..] {
        assert!(metric(s, "attempts_per_request") > 1.0, "{}", s["name"]);
        assert!(
            metric(s, "success_rate") > metric(default, "success_rate"),
            "{}",
            s["name"]
        );
    }
    // Marks go only to strategies that answer as well as any: the SDK default answers the
    // fewest, so it is never "best" at cost or attempts however little it spends.
    let top = strategies
        .iter()
        .map(|s| metric(s, "success_rate"))
        .fold(f64::MIN, f64::max);
    // (Two seeds of three minutes give wide intervals: few figures, if any, stand out.)
    let best = c["best"].as_object().unwrap();
    for (key, who) in best {
        let winner = strategies.iter().find(|s| s["name"] == *who).unwrap();
        assert_ne!(who, "google-genai-default", "{key}");
        assert!(metric(winner, "success_rate") >= top - 5.0, "{key}: {who}");
        assert!(o.stdout.contains('★'), "{}", o.stdout);
    }
    // A long limit every strategy misses is said once (the traffic's demand, not a strategy's),
    // not once per strategy.
    let limits: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("! ")).collect();
    assert!(!limits.is_empty() && limits.len() <= 3, "{limits:#?}");
    assert!(limits.iter().all(|l| !l.contains("This run answered")), "{limits:#?}");
    // The terminal table fits 120 columns, in blocks of strategies.
    let widest = o
        .stdout
        .lines()
        .filter(|l| !l.starts_with('!'))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(widest <= 120, "{widest} columns:\n{}", o.stdout);
    assert!(o.stdout.contains("google-genai-default"), "{}", o.stdout);
    let md = std::fs::read_to_string(out.path().join("compare.md")).unwrap();
    assert!(md.contains("| attempts per request |"), "{md}");
    let html = std::fs::read_to_string(out.path().join("compare.html")).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("<script src"),
        "self-contained page"
    );
    for n in names {
        assert!(html.contains(n), "{n} in compare.html");
    }
}

#[test]
fn the_same_strategy_twice_gives_the_same_figures() {
    // Common random numbers: with identical traffic and identical mock draws, two copies of one
    // strategy cannot differ at all.
    let dir = tempfile::tempdir().unwrap();
    let a = scenario(dir.path(), "a", "name = \"a\"\npreset = \"aws-standard\"\n");
    let b = scenario(dir.path(), "b", "[strategy]\nname = \"b\"\npreset = \"aws-standard\"\n");
    let path = root().join("scenarios/retry-storm.toml");
    let out = dir.path().join("out");
    let o = stampede(&[
        "compare",
        path.to_str().unwrap(),
        "--strategy",
        a.to_str().unwrap(),
        "--strategy",
        b.to_str().unwrap(),
        "--strategy",
        "preset:google-genai-default",
        "--duration",
        "2m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c = compare_json(&out);
    let s = c["strategies"].as_array().unwrap();
    assert_eq!(s[0]["metrics"], s[1]["metrics"]);
    assert_ne!(
        s[0]["metrics"], s[2]["metrics"],
        "a different strategy gives different figures"
    );
    assert_eq!(s[0]["requests"], s[1]["requests"]);
    // Rows where both copies share the best value mark no one.
    for (key, who) in c["best"].as_object().unwrap() {
        assert_eq!(
            who, "google-genai-default",
            "{key}: a tie between a and b is no one's best"
        );
    }
}

#[test]
fn lanes_are_named_and_compared_lane_by_lane() {
    let out = tempfile::tempdir().unwrap();
    let path = root().join("scenarios/lanes.toml");
    let (_, s) = run_to(&path, out.path(), &["--target", "sim", "--duration", "3m"]);
    let lanes: Vec<&String> = s["lanes"].as_object().unwrap().keys().collect();
    assert_eq!(lanes, ["batch", "interactive"]);
    let o = stampede(&["compare", path.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Every output that states a cost says which catalog priced it.
    assert!(
        o.stdout.contains("(costs priced by stampede's catalog of 2026-12-03"),
        "{}",
        o.stdout
    );
    let md = std::fs::read_to_string(out.path().join("compare.md")).unwrap();
    assert!(md.contains("costs priced by stampede's catalog of 2026-12-03"), "{md}");
    // And what every figure rests on, with how to replace it.
    assert!(
        md.contains("### What this rests on") && md.contains("| latency |"),
        "{md}"
    );
    assert!(o.stdout.contains("what this rests on"), "{}", o.stdout);
    // The rule behind the ★ marks is said, with who competes for them.
    assert!(
        md.contains("★ marks a row's best value when it stands out beyond the noise"),
        "{md}"
    );
    assert!(o.stdout.contains("★ marks a row's best value"), "{}", o.stdout);
    let c = compare_json(out.path());
    let by_name = |n: &str| {
        c["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    let interactive = |n: &str| metric(&by_name(n), "lane.interactive.p99_ms");
    // Strict priority serves interactive requests before any batch job: its interactive p99 is
    // below FIFO's, and FIFO lets interactive requests expire behind the batch burst.
    assert!(interactive("priority") < interactive("fifo"));
    assert!(metric(&by_name("fifo"), "lane.interactive.success_rate") < 100.0);
    assert_eq!(metric(&by_name("priority"), "lane.interactive.success_rate"), 100.0);
    // Eight workers kept for interactive requests (`reserve`) save some of them from FIFO.
    let saved = |n: &str| metric(&by_name(n), "lane.interactive.success_rate");
    assert!(
        saved("reserve-8") > saved("fifo") + 5.0,
        "{} vs {}",
        saved("reserve-8"),
        saved("fifo")
    );
    assert!(o.stdout.contains("interactive: p99 latency (ms)"), "{}", o.stdout);
}

#[test]
fn bad_strategies_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let typo = scenario(dir.path(), "typo", "name = \"x\"\n\nwokers = 3\n");
    let path = root().join("scenarios/retry-storm.toml");
    // `compare` with these two strategies: exit 2 and the message.
    let refused = |a: &str, b: &str| {
        let o = stampede(&["compare", path.to_str().unwrap(), "--strategy", a, "--strategy", b]);
        assert_eq!(o.code, 2, "{a} and {b}: {}", o.stderr);
        o.stderr
    };
    let e = refused(typo.to_str().unwrap(), "preset:gemini-cli");
    assert!(
        e.contains(&format!("{}:3:1: unknown field `wokers`", typo.display())),
        "{e}"
    );
    let e = refused("preset:gemini-cli", "preset:gemini-cli");
    assert!(e.contains("two strategies are named \"gemini-cli\""), "{e}");
    let e = refused("preset:gemini-cli", "preset:nope");
    assert!(e.contains("unknown strategy preset \"nope\""), "{e}");
    let o = stampede(&["compare", path.to_str().unwrap(), "--strategy", "preset:gemini-cli"]);
    assert_eq!(o.code, 2, "one strategy is not a comparison");

    // In the scenario: a misspelt key inside [[strategies]], and a reserve for a lane that
    // does not exist.
    let text = std::fs::read_to_string(root().join("scenarios/lanes.toml")).unwrap();
    let broken = text.replace("reserve = { interactive = 8 }", "reserve = { interactiv = 8 }");
    let p = scenario(dir.path(), "lanes", &broken);
    let o = stampede(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("strategy.reserve names lane \"interactiv\""),
        "{}",
        o.stderr
    );
    let broken = text.replace("queue = { scheduler = \"fair\" }", "queue = { sheduler = \"fair\" }");
    let line = broken.lines().position(|l| l.contains("sheduler")).unwrap() + 1;
    let p = scenario(dir.path(), "lanes2", &broken);
    let o = stampede(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains(&format!("{}:{line}:", p.display())), "{}", o.stderr);
    assert!(o.stderr.contains("unknown field `sheduler`"), "{}", o.stderr);
}

#[test]
fn cache_dedup_and_fallback_answers_get_their_own_rows() {
    let out = tempfile::tempdir().unwrap();
    let rows = |scenario: &str| {
        let path = root().join("scenarios").join(scenario);
        let o = stampede(&[
            "compare",
            path.to_str().unwrap(),
            "--duration",
            "3m",
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        compare_json(out.path())
    };
    let c = rows("cache.toml");
    let s = c["strategies"].as_array().unwrap();
    assert_eq!(
        metric(&s[0], "served_cache") + metric(&s[0], "served_dedup"),
        0.0,
        "no-cache"
    );
    assert!(
        metric(&s[1], "served_dedup") > 0.0 && metric(&s[1], "served_cache") == 0.0,
        "dedup only"
    );
    assert!(
        metric(&s[2], "served_cache") > metric(&s[1], "served_dedup"),
        "cache+dedup"
    );
    // Requests answered without a call are not attempts.
    assert!(metric(&s[2], "attempts_per_request") < 1.0);
    let c = rows("fallback.toml");
    let s = c["strategies"].as_array().unwrap();
    assert!(metric(&s[1], "served_fallback") > 0.0);
    assert_eq!(
        metric(&s[1], "served_fallback"),
        metric(&s[2], "served_degraded"),
        "the same requests fall back"
    );
    // Rows nobody has are left out.
    let keys: Vec<&str> = c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&"hedges") && !keys.contains(&"served_cache"), "{keys:?}");
}
