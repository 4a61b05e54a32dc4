//! `stampede plan --search full`: on textbook cases the search agrees with theory (M/M/c sizing;
//! a quota no worker count can beat; a retry budget that must be on for the SLO to hold); on the
//! example scenarios it is at least as cheap as the best workers-only candidate and its
//! recommendation, re-run on seeds it never used, meets the SLO; plan.json carries the front and
//! the recommendation's full settings.

use stampede::commands::plan::{plan, CapacityPlan, PlanOptions, SearchOptions, SeedBudget};
use stampede::prepare::RunOptions;
use stampede::queueing::MMc;
use stampede::scenario::plan::SearchKind;
use stampede::scenario::{Candidate, Scenario};

use crate::support::{plan_to, root, run_to, scenario, stampede as cli};

/// The full search of a scenario's text, with no growth what-ifs.
fn search(text: &str) -> CapacityPlan {
    search_for(text, None)
}

/// [`search`] over another traffic window than the scenario's.
fn search_for(text: &str, window: Option<std::time::Duration>) -> CapacityPlan {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s", text);
    let loaded = Scenario::load(&path).unwrap();
    let mut candidates = loaded.candidates().to_vec();
    if candidates.is_empty() {
        candidates.push(Candidate {
            name: "as configured".into(),
            strategy: loaded.scenario.strategy.get_ref().clone(),
        });
    }
    let options = PlanOptions {
        run: RunOptions {
            duration: window,
            ..RunOptions::default()
        },
        seeds: SeedBudget { start: 5, max: 20 },
        min_workers: 1,
        max_workers: 1024,
        candidates,
        growth: Vec::new(),
        probe: None,
        progress: Default::default(),
        search: SearchOptions {
            kind: Some(SearchKind::Full),
            sdk_retry: None,
        },
    };
    plan(&loaded, &options).unwrap()
}

/// 20/s of exponential 1 s service, no quota, p95 ≤ 3.5 s, every request answered.
const MMC: &str = r#"
name = "search-mmc"
seed = 3
duration = "6m"
[target]
kind = "sim"
model = "gemini-2.5-flash"
profile = "unlimited"
[target.mock]
latency = { dist = "exponential", mean = "1s" }
[traffic]
arrival = "poisson"
rate = 20.0
input_tokens = 10
output_tokens = 10
[strategy]
workers = 64
queue = { capacity = 1000000 }
timeout = { attempt = "1h", total = "1h" }
[plan]
retry = ["as-configured"]
attempt_timeout = ["as-configured"]
queue = ["unbounded", "slo"]
[slo]
p95 = "3500ms"
success_rate = 0.999
"#;

#[test]
fn the_full_search_agrees_with_mmc_theory() {
    let p = search(MMC);
    let theory = MMc::servers_for_response(20.0, 1.0, 0.95, 3.5, 100).unwrap();
    assert_eq!(theory, 22);
    let r = p.recommendation.as_ref().expect("a plan passes");
    let best = p.candidates.iter().find(|c| c.name == r.candidate).unwrap();
    let min = best.min_workers.unwrap();
    // At 22 the true p95 is 2% under the target; a finalist must meet it on every seed, so one
    // or two more may be needed, never fewer than theory.
    assert!((theory..=theory + 2).contains(&min), "search {min}, theory {theory}");
    // A queue deadline (2.8 s: the target less the median service) fails the requests that
    // would wait longer; at 22 servers that is P(W > 2.8 s) = C·e^{-2·2.8} ≈ 0.2% > 0.1%: the
    // deadline cannot pass with fewer workers than the unbounded queue.
    let s = p.search.as_ref().unwrap();
    let deadline = s
        .screened
        .iter()
        .find(|x| x.candidate.contains("queue deadline"))
        .expect("the deadline queue was screened");
    let own = s.screened.iter().find(|x| x.candidate.contains("own queue")).unwrap();
    if let (Some(d), Some(o)) = (deadline.min_workers, own.min_workers) {
        assert!(d >= o, "deadline {d} < own {o}");
    }
    // Re-run on seeds the search never used, every seed met the objectives.
    let c = s.confirmation.as_ref().unwrap();
    assert_eq!(c.passed_seeds as usize, c.seeds.len(), "{c:?}");
    assert!(c.seeds.iter().all(|x| !p.seeds.contains(x)));
    // Every fully sized point is on the front table's axes, with an interval from its seeds.
    assert!(s.front.iter().any(|f| f.on_front && f.passes));
    assert!(s.front.iter().all(|f| f.seeds >= 2 && f.p95_ms.ci95.is_some()));
}

/// 20/s against a 600 RPM quota (10/s) with 95% to answer: no plan, whatever its workers,
/// retries, rate limit or queue, can answer more than half.
const QUOTA: &str = r#"
name = "search-quota"
seed = 5
duration = "3m"
[target]
kind = "sim"
model = "gemini-2.5-flash"
profile = "tier3"
[target.mock]
rpm = 600
latency = { dist = "lognormal", median = "500ms", p99 = "2s" }
[traffic]
arrival = "poisson"
rate = 20.0
input_tokens = 100
output_tokens = 50
[strategy]
workers = 32
timeout = { attempt = "10s", total = "30s" }
[slo]
p95 = "10s"
success_rate = 0.95
"#;

#[test]
fn a_quota_no_worker_count_can_beat_leaves_no_plan() {
    let p = search(QUOTA);
    assert!(p.best.is_none() && p.recommendation.is_none(), "{:?}", p.best);
    let s = p.search.as_ref().unwrap();
    // Every combination was screened and none was sized to a passing count.
    assert!(s.combinations >= 8, "{}", s.combinations);
    assert!(s.screened.iter().all(|x| x.min_workers.is_none()));
    assert!(s.confirmation.is_none());
    let closest = p.closest.as_ref().unwrap();
    assert!(
        closest.change.contains("RPM") || closest.change.contains("quota"),
        "{}",
        closest.change
    );
    // Answered at most the quota's share: 600 a minute of 1,200.
    let most = p
        .candidates
        .iter()
        .flat_map(|c| c.points.iter())
        .filter_map(|pt| pt.success_rate.mean)
        .fold(0.0, f64::max);
    assert!(most < 0.6, "{most}");
}

/// 12/s against a 600 RPM quota (10/s), retried by exponential backoff with 5 attempts: without
/// a budget the retries multiply the refusals (each 429 is retried up to four times), with a 20%
/// budget they stay near a fifth of the requests. The objective on the 429 share holds only with
/// the budget on; the answers are the quota's either way.
const BUDGET: &str = r#"
name = "search-budget"
seed = 7
duration = "5m"
[target]
kind = "sim"
model = "gemini-2.5-flash"
profile = "tier3"
[target.mock]
rpm = 600
latency = { dist = "lognormal", median = "500ms", p99 = "2s" }
[traffic]
arrival = "poisson"
rate = 12.0
input_tokens = 100
output_tokens = 50
[strategy]
workers = 32
timeout = { attempt = "10s", total = "60s" }
retry = { policy = "exponential", jitter = "full", base = "500ms", cap = "8s", max_attempts = 5 }
[plan]
retry = ["exponential-full-jitter"]
attempts = [5]
budget = ["off", "percent"]
rate_limit = ["off"]
queue = ["unbounded"]
attempt_timeout = ["as-configured"]
[slo]
success_rate = 0.75
max_429_share = 0.35
"#;

#[test]
fn a_retry_budget_that_must_be_on_is_found() {
    let p = search(BUDGET);
    let r = p.recommendation.as_ref().expect("the budgeted plan passes");
    assert!(r.candidate.contains("20% budget"), "{}", r.candidate);
    assert!(r.strategy.retry.budget.is_some());
    assert!(r.settings["retry"].contains("percent"), "{}", r.settings["retry"]);
    let s = p.search.as_ref().unwrap();
    let unbudgeted = s
        .screened
        .iter()
        .find(|x| !x.candidate.contains("budget") && x.candidate.contains("exponential"))
        .unwrap();
    assert!(unbudgeted.min_workers.is_none(), "{unbudgeted:?}");
}

#[test]
fn plan_json_carries_the_front_and_the_recommendations_full_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "mmc",
        &MMC.replace("duration = \"6m\"", "duration = \"2m\""),
    );
    let out = dir.path().join("out");
    // [plan] has no `search`: workers only, no search object.
    let json = plan_to(&path, &out, &[]).1;
    assert!(json.get("search").is_none());
    let json = plan_to(&path, &out, &["--search", "full"]).1;
    let s = &json["search"];
    assert!(s["front"].as_array().unwrap().iter().any(|f| f["on_front"] == true));
    assert!(s["effort"]["screen_runs"].as_u64().unwrap() > 0);
    let r = &json["recommendation"];
    for key in ["retry", "queue", "timeout"] {
        assert!(r["settings"][key].is_string(), "{key}: {r}");
    }
    assert!(r["workers"].as_u64().unwrap() >= 22);
    // The settings paste back into a scenario and run.
    let mut doc: toml::Table = toml::from_str(&MMC.replace("duration = \"6m\"", "duration = \"2m\"")).unwrap();
    doc.remove("plan");
    let mut strategy = toml::Table::new();
    strategy.insert("workers".into(), toml::Value::Integer(r["workers"].as_i64().unwrap()));
    for (k, v) in r["settings"].as_object().unwrap() {
        let t: toml::Table = toml::from_str(&format!("{k} = {}", v.as_str().unwrap())).unwrap();
        strategy.extend(t);
    }
    doc.insert("strategy".into(), toml::Value::Table(strategy));
    let rerun = scenario(dir.path(), "rerun", &toml::to_string(&doc).unwrap());
    let (o, summary) = run_to(&rerun, &dir.path().join("rerun-out"), &["--seed", "424242"]);
    assert!(o.code == 0 || o.code == 1, "{}", o.stderr);
    assert!(summary["requests"]["scheduled"].as_u64().unwrap() > 2000);
    // The page draws the front.
    let html = std::fs::read_to_string(out.join("plan.html")).unwrap();
    assert!(html.contains("Pareto front") && html.contains("<svg"), "no front drawn");
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    assert!(md.contains("### The full search"));
}

#[test]
fn the_full_search_needs_a_success_objective_and_checks_its_plan_table() {
    let dir = tempfile::tempdir().unwrap();
    let no_floor = MMC.replace("success_rate = 0.999\n", "");
    let path = scenario(dir.path(), "nofloor", &no_floor);
    let o = cli(&["plan", path.to_str().unwrap(), "--search", "full", "--no-probe", "-q"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("success_rate"), "{}", o.stderr);
    for (bad, says) in [
        ("retry = [\"sometimes\"]", "not a retry shape"),
        ("attempts = [50]", "out of range"),
        ("rate_limit = [1.5]", "out of range"),
        ("queue = [\"forever\"]", "neither a word"),
        ("finalists = 99", "out of range"),
    ] {
        let text = MMC.replace("[plan]\n", &format!("[plan]\n{bad}\n"));
        let text = text
            .replace("retry = [\"as-configured\"]\n", "")
            .replace("queue = [\"unbounded\", \"slo\"]\n", "");
        let path = scenario(dir.path(), "bad", &text);
        let o = cli(&["plan", path.to_str().unwrap(), "--no-probe", "-q"]);
        assert_eq!(o.code, 2, "{bad}: {}", o.stderr);
        assert!(
            o.stderr.contains(says) && o.stderr.contains("bad.toml:"),
            "{bad}: {}",
            o.stderr
        );
    }
}

#[test]
fn on_the_example_scenarios_the_search_is_at_least_as_cheap_as_the_workers_only_plan() {
    for name in ["plan-search-fallback.toml", "plan-search-lanes.toml"] {
        let loaded = Scenario::load(&root().join("scenarios").join(name)).unwrap();
        // Four minutes of their traffic per run keeps the test short; the search is the same.
        let p = search_for(&loaded.text, Some(std::time::Duration::from_secs(240)));
        let r = p
            .recommendation
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: nothing passes"));
        let s = p.search.as_ref().unwrap();
        let cost = |c: &stampede::commands::plan::CandidatePlan| c.cost_usd.map(|k| k.hour);
        let winner = p.candidates.iter().find(|c| c.name == r.candidate).unwrap();
        let written = p
            .candidates
            .iter()
            .filter(|c| c.passes && !s.finalists.contains(&c.name))
            .filter_map(cost)
            .fold(f64::INFINITY, f64::min);
        let won = cost(winner).unwrap();
        // At least as cheap, within the 2% the verdict calls a tie.
        assert!(won <= written * 1.02, "{name}: search {won} vs written {written}");
        let c = s.confirmation.as_ref().unwrap();
        assert_eq!(c.passed_seeds as usize, c.seeds.len(), "{name}: {c:?}");
    }
}

/// 2/s of long prompts on tier 1 ($250 a month): every objective is met in the window, but the
/// month it stands for is many times the cap — no point of the front passes, and the plan names
/// the cap.
const OVER_CAP: &str = r#"
name = "search-over-cap"
seed = 9
duration = "2m"
[target]
kind = "sim"
model = "gemini-3.8-flash"
profile = "tier1"
[target.mock]
latency = { dist = "lognormal", median = "500ms", p99 = "2s" }
[traffic]
arrival = "poisson"
rate = 2.0
input_tokens = 2000
output_tokens = 300
[strategy]
workers = 8
timeout = { attempt = "10s", total = "30s" }
[plan]
retry = ["as-configured"]
attempt_timeout = ["as-configured"]
queue = ["unbounded"]
rate_limit = ["off"]
[slo]
p95 = "10s"
success_rate = 0.99
"#;

#[test]
fn points_over_the_monthly_cap_do_not_pass_the_front() {
    let p = search(OVER_CAP);
    assert!(p.best.is_none(), "{:?}", p.best);
    let s = p.search.as_ref().unwrap();
    let met_in_window = p
        .candidates
        .iter()
        .flat_map(|c| c.points.iter())
        .filter(|pt| pt.passes)
        .count();
    assert!(met_in_window > 0, "no count met the objectives in the window");
    assert!(
        s.front.iter().all(|f| !f.passes),
        "a point over the cap passes the front"
    );
    let closest = p.closest.as_ref().unwrap();
    assert!(
        closest.misses.iter().any(|m| m.contains("monthly spend cap")),
        "{:?}",
        closest.misses
    );
}
