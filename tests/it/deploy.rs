//! `plan` weighs deployments: replicas × workers on the scenario's `[hosting]` machines, the
//! API's cost and the machines' together.

use serde_json::Value;

use crate::support::{scenario, stampede};

/// One big replica against four small ones on identical traffic: the API's cost is the same
/// (the same requests answered), so the machines decide.
fn deployment_scenario(replica_usd_hour: f64) -> String {
    format!(
        r#"
name = "deploy"
seed = 3
duration = "60s"

[target]
kind = "sim"
model = "gemini-2.5-flash-lite"
profile = "tier3"

[target.mock]
rpd = 0
latency = {{ dist = "lognormal", median = "800ms", p99 = "3s" }}

[traffic]
arrival = "poisson"
rate = 10
input_tokens = 200
output_tokens = 50

[strategy]
workers = 16

[slo]
p95 = "4s"
success_rate = 0.99

[[strategies]]
name = "one big"
replicas = 1

[[strategies]]
name = "four small"
replicas = 4

[hosting]
machines = [
  {{ name = "small", vcpu = 1, memory_gib = 1, usd_hour = 0.05 }},
  {{ name = "large", vcpu = 8, memory_gib = 16, usd_hour = 0.40 }},
]
replica_usd_hour = {replica_usd_hour}
client = {{ cpu_ms_per_attempt = 100, kib_per_in_flight = 512, base_mib = 100 }}
"#
    )
}

/// `plan --json` of the scenario at `path` (no growth, no probe) into `out`: plan.json.
fn plan_json(path: &std::path::Path, out: &std::path::Path) -> Value {
    let (path, out) = (path.to_str().unwrap(), out.to_str().unwrap());
    let o = stampede(&[
        "plan",
        path,
        "--quiet",
        "--no-growth",
        "--no-probe",
        "--json",
        "--out",
        out,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

fn plan_of(replica_usd_hour: f64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "deploy", &deployment_scenario(replica_usd_hour));
    let out = dir.path().join("out");
    let plan = plan_json(&path, &out);
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    assert!(md.contains("### Deployments"), "{md}");
    plan
}

fn deployment<'a>(plan: &'a Value, name: &str) -> &'a Value {
    let c = plan["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    &c["deployment"]
}

#[test]
fn plan_picks_the_cheaper_deployment_of_one_big_replica_or_four_small() {
    // Machines alone: one replica needs 2 vCPU at the busiest (a large machine, $0.40), a quarter
    // of the traffic fits a small one ($0.05 each, $0.20 for four).
    let plan = plan_of(0.0);
    let (big, small) = (deployment(&plan, "one big"), deployment(&plan, "four small"));
    assert_eq!(big["replicas"], 1);
    assert_eq!(small["replicas"], 4);
    assert_eq!(big["machine"], "large");
    assert_eq!(small["machine"], "small");
    assert!((big["hosting_usd_hour"].as_f64().unwrap() - 0.40).abs() < 1e-9);
    assert!((small["hosting_usd_hour"].as_f64().unwrap() - 0.20).abs() < 1e-9);
    let api = |d: &Value| d["api_usd_hour"].as_f64().unwrap();
    // The same traffic answered: the API's costs agree within 3%.
    assert!((api(big) / api(small) - 1.0).abs() < 0.03, "{big} {small}");
    assert_eq!(
        plan["recommendation"]["candidate"], "four small",
        "{}",
        plan["recommendation"]
    );
    // Four separate queues pool less well than one: each small replica needs more than a
    // quarter of the big one's workers.
    let (wb, ws) = (
        big["workers_per_replica"].as_u64().unwrap(),
        small["workers_per_replica"].as_u64().unwrap(),
    );
    assert!(4 * ws >= wb, "one big {wb}, four small {ws} each");

    // A fixed cost per replica (a load-balancer target, a sidecar) turns it round.
    let plan = plan_of(0.5);
    let (big, small) = (deployment(&plan, "one big"), deployment(&plan, "four small"));
    assert!((big["hosting_usd_hour"].as_f64().unwrap() - 0.90).abs() < 1e-9);
    assert!((small["hosting_usd_hour"].as_f64().unwrap() - 2.20).abs() < 1e-9);
    assert_eq!(
        plan["recommendation"]["candidate"], "one big",
        "{}",
        plan["recommendation"]
    );
}

const SPLIT: &str = r#"
name = "split-limit"
seed = 3
duration = "120s"

[target]
kind = "sim"
model = "gemini-2.5-flash-lite"
profile = "tier3"

[target.mock]
rpm = 720
rpd = 0
latency = { dist = "lognormal", median = "800ms", p99 = "3s" }

[traffic]
arrival = "poisson"
rate = 10
input_tokens = 200
output_tokens = 50

[strategy]
workers = 16
replicas = 4
rate_limit = LIMIT

[slo]
p95 = "6s"
success_rate = 0.99
"#;

#[test]
fn a_shared_rate_limit_queues_less_than_a_bucket_per_replica_and_plan_measures_both() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, limit: &str| {
        let path = scenario(dir.path(), name, &SPLIT.replace("LIMIT", limit));
        crate::support::run_to(&path, &dir.path().join(name), &[]).1
    };
    let split = run("split", "{ rpm = 171 }");
    let shared = run("shared", "{ rpm = 684, shared = true }");
    let wait = |s: &Value| s["queue_wait_ms"]["mean"].as_f64().unwrap();
    assert!(
        wait(&shared) < 0.5 * wait(&split),
        "shared {} ms, split {} ms",
        wait(&shared),
        wait(&split)
    );
    // The shared bucket holds the whole deployment to its rate: no minute started more than
    // 684 attempts, plus the bucket's one second of burst.
    let started: Vec<u64> = shared["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["started"].as_u64().unwrap())
        .collect();
    let busiest_minute = started.windows(60).map(|w| w.iter().sum::<u64>()).max().unwrap();
    assert!(busiest_minute <= 684 + 12, "{busiest_minute}");

    let path = scenario(dir.path(), "plan", &SPLIT.replace("LIMIT", "{ rpm = 171 }"));
    let plan = plan_json(&path, &dir.path().join("plan-out"));
    let check = &plan["shared_limit"];
    assert_eq!(check["per_replica"], "{ rpm = 171 }");
    assert_eq!(check["shared"], "{ rpm = 684 }");
    assert!(
        check["why"].as_str().unwrap().contains("rate_limit.shared = true"),
        "{check}"
    );
}
