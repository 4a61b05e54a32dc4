//! Implicit caching by token prefix: a long document followed by a different question in the
//! same text part is served from the cache up to its last whole chunk, in the simulator and over
//! HTTP alike.

use crate::support::{assert_accounted, root, run_to, scenario};

/// Tokens in one chunk of the mock's implicit cache (stampede_mock::prefix::CHUNK_TOKENS).
const CHUNK: u64 = 128;

#[test]
fn a_shared_document_is_cached_by_whole_chunks_in_sim_and_over_http_alike() {
    let text = r#"
name = "docs"
seed = 8
duration = "3s"

[target]
kind = "mock"
model = "gemini-3.5-flash"

[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = { dist = "constant", value = "50ms" }

[traffic]
arrival = "poisson"
rate = 6

[[traffic.lanes]]
name = "policy"
document_tokens = 12000
input_tokens = 40
output_tokens = 20

[strategy]
workers = 32
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "docs", text);
    let (_, sim) = run_to(&path, &dir.path().join("sim"), &["--target", "sim"]);
    let (_, live) = run_to(&path, &dir.path().join("live"), &[]);
    let mut cached = Vec::new();
    for (what, s) in [("sim", &sim), ("live", &live)] {
        assert_accounted(s);
        let n = s["requests"]["succeeded"].as_u64().unwrap();
        assert!(n >= 10, "{what}: {n}");
        let t = &s["tokens"];
        // Every prompt is the document and a 40-token question, counted from the body.
        assert_eq!(t["input"].as_u64().unwrap(), n * 12_040, "{what}: {t}");
        assert_eq!(t["input"], t["planned_input"], "{what}");
        // From the second request on, the document's 93 whole chunks (11,904 tokens) are served.
        assert_eq!(t["cached"].as_u64().unwrap(), (n - 1) * 11_904, "{what}: {t}");
        cached.push(t["cached"].as_u64().unwrap());
    }
    assert_eq!(sim["requests"]["scheduled"], live["requests"]["scheduled"]);
    let n = sim["requests"]["succeeded"].as_u64().unwrap();
    assert!(cached[0].abs_diff(cached[1]) <= CHUNK * n, "{cached:?}");
}

#[test]
fn many_documents_are_cached_only_once_each_has_been_read() {
    let dir = tempfile::tempdir().unwrap();
    let (o, s) = run_to(&root().join("scenarios/document-qa.toml"), &dir.path().join("run"), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_accounted(&s);
    let t = &s["tokens"];
    let (input, cached) = (t["input"].as_f64().unwrap(), t["cached"].as_f64().unwrap());
    // Three in four requests read the one policy (cached after the first); one in four one of
    // 50 contracts, each read fresh the first time. Most input is cached, not all.
    let share = cached / input;
    assert!((0.6..0.95).contains(&share), "cached share {share}");
    assert!(s["cost_split"]["cache_saving_usd"].as_f64().unwrap() > 0.0);
    // The same traffic without documents' sharing (every request its own document) caches none.
    let text = std::fs::read_to_string(root().join("scenarios/document-qa.toml"))
        .unwrap()
        .replace("documents = 50", "documents = 1000000")
        .replace("share = 3\n", "share = 0\n")
        .replace("duration = \"5m\"", "duration = \"30s\"");
    let path = scenario(dir.path(), "unshared", &text);
    let (_, s) = run_to(&path, &dir.path().join("unshared"), &[]);
    let cached = s["tokens"]["cached"].as_u64().unwrap();
    let n = s["requests"]["succeeded"].as_u64().unwrap();
    // A million documents over ~30 requests: at most a rare repeat is served.
    assert!(cached <= 2 * 19_968, "{cached} of {n} requests");
}
