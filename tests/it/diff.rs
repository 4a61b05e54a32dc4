//! `stampede diff`: a planted regression exits 1 and names the metrics; seed-to-seed noise
//! exits 0.

use crate::support::{run_to, scenario, stampede};

fn scenario_text(median_ms: u64, p99_ms: u64) -> String {
    format!(
        r#"
name = "diff-gate"
seed = 1
duration = "60s"

[target]
kind = "sim"
model = "gemini-2.5-flash"
profile = "unlimited"

[target.mock]
latency = {{ dist = "lognormal", median = "{median_ms}ms", p99 = "{p99_ms}ms" }}

[traffic]
arrival = "poisson"
rate = 40.0
input_tokens = {{ dist = "constant", value = 500 }}
output_tokens = {{ dist = "constant", value = 100 }}

[strategy]
workers = 64
"#
    )
}

#[test]
fn a_planted_regression_fails_the_gate_and_noise_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let fast = scenario(dir.path(), "fast", &scenario_text(500, 2000));
    let slow = scenario(dir.path(), "slow", &scenario_text(650, 2600));
    let run = |path: &std::path::Path, out: &str, seed: &str| {
        let out = dir.path().join(out);
        run_to(path, &out, &["--seed", seed]);
        out.join("summary.json").to_str().unwrap().to_string()
    };
    let baseline = run(&fast, "baseline", "1");
    // Another seed: different arrivals and latencies, same system.
    let noise = run(&fast, "noise", "2");
    let o = stampede(&["diff", &baseline, &noise]);
    assert_eq!(o.code, 0, "seed noise is not a regression:\n{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("| p95 (ms) |") && o.stdout.contains(" · ok"),
        "{}",
        o.stdout
    );
    // The upstream 30% slower throughout: p50, p95 and p99 regress; success does not.
    let regressed = run(&slow, "slow", "2");
    let md = dir.path().join("diff.md");
    let o = stampede(&["diff", &baseline, &regressed, "--out", md.to_str().unwrap()]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("regression: p50, p95, p99"), "{}", o.stderr);
    let table = std::fs::read_to_string(&md).unwrap();
    assert!(
        table.contains("REGRESSION") && table.contains("| success_rate | 100.0% | 100.0% | +0.0 pp | −1 pp | ok |"),
        "{table}"
    );
    // Looser thresholds on the three let it pass.
    let o = stampede(&[
        "diff",
        &baseline,
        &regressed,
        "--threshold",
        "p50=40%",
        "--threshold",
        "p95=40%",
        "--threshold",
        "p99=40%",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // Bad thresholds and files are input errors.
    assert_eq!(
        stampede(&["diff", &baseline, &regressed, "--threshold", "p96=1%"]).code,
        2
    );
    assert_eq!(
        stampede(&["diff", &baseline, &regressed, "--threshold", "p95=lots"]).code,
        2
    );
    assert_eq!(stampede(&["diff", &baseline, "missing.json"]).code, 2);
}

#[test]
fn runs_of_different_scenarios_are_diffed_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        run_to(
            &crate::support::root().join("scenarios").join(format!("{name}.toml")),
            &out,
            &["--target", "sim", "--duration", "30s"],
        );
        out.join("summary.json").to_str().unwrap().to_string()
    };
    let (a, b) = (run("quickstart"), run("constant"));
    let o = stampede(&["diff", &a, &a]);
    assert!(
        !o.stderr.contains("warning") && !o.stdout.contains("Not like for like"),
        "{}",
        o.stderr
    );
    let o = stampede(&["diff", &a, &b]);
    assert!(
        o.stderr
            .contains("warning: the scenario differs (quickstart → constant)"),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout.contains("> **Not like for like**: the scenario differs"),
        "{}",
        o.stdout
    );
}
