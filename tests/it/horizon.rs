//! The buyer's month: projected from the demand offered, not from what a quota let through, and
//! a cap below it never called a fit — in `run` and in `plan`'s growth what-ifs.

use crate::support::{assert_accounted, scenario, stampede};

/// A day at 0.5 requests a second on gemini-3.5-flash-lite ($0.30 / $2.50 per 1M), each 1,000
/// tokens in and 100 out with 10 thinking (minimal: 0.1 per answer token), under a daily quota
/// of 10,000 and a monthly cap of $500.
const DAY: &str = r#"
name = "day"
seed = 3
duration = "24h"

[target]
kind = "sim"
model = "gemini-3.5-flash-lite"
profile = "tier1"
thinking_level = "minimal"

[target.mock]
rpm = 0
tpm = 0
rpd = 10000
monthly_cap_usd = 500
latency = { dist = "constant", value = "200ms" }

[traffic]
arrival = "constant"
rate = 0.5
input_tokens = 1000
output_tokens = 100

[strategy]
workers = 4

[slo]
p95 = "5s"
"#;

#[test]
fn a_throttled_day_is_priced_at_its_offered_demand() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "day", DAY);
    let out = dir.path().join("out");
    let o = stampede(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]);
    let s: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_accounted(&s);
    assert_eq!(s["requests"]["scheduled"], 43_200);
    // The daily quota let 10,000 through (one reset inside the day may let more).
    let answered = s["requests"]["succeeded"].as_u64().unwrap();
    assert!((10_000..=20_000).contains(&answered), "{answered}");
    // By hand: 43,200 requests a day x 30 days x (1,000 x $0.30 + 110 x $2.50) / 1M.
    let per_request = (1000.0 * 0.30 + 110.0 * 2.50) / 1e6;
    let offered_month = 43_200.0 * 30.0 * per_request;
    let h = &s["horizon"];
    let month = h["cost_per_month_usd"].as_f64().unwrap();
    assert!((month - offered_month).abs() < 0.01, "{month} vs {offered_month}");
    let spent = h["answered_cost_per_month_usd"].as_f64().unwrap();
    assert!((spent - answered as f64 * 30.0 * per_request).abs() < 0.01, "{spent}");
    // The $500 cap is above what was answered ($172.50 a month) and below what the traffic
    // costs ($745.20): it is not a fit, and the verdict says what was answered beside it.
    let cap = h["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == "monthly_spend_cap")
        .unwrap();
    assert_eq!(cap["pass"], false, "{cap}");
    let m = cap["message"].as_str().unwrap();
    assert!(m.contains("$745.20 over 30 days at the run's daily average"), "{m}");
    assert!(
        m.contains("This run answered 23% of it, spending at $172.50 a month"),
        "{m}"
    );
    assert!(!m.contains("it fits"), "{m}");
    // What binds is the daily quota, from the refusals; no retry is advised for refusals no
    // retry can turn into answers today; the day's charts read in hours.
    assert_eq!(s["advice"]["binding"]["limit"], "daily_quota");
    let recs = s["advice"]["recommendations"].as_array().unwrap();
    assert!(!recs.iter().any(|r| r["setting"] == "retry"), "{recs:?}");
    // Seconds without an arrival (one every 2 s) do not split the stretch the quota was spent.
    let spent = s["advice"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "quota_spent")
        .map(|w| w["message"].as_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        spent.contains("to 24 h 00 min after the start no request was answered"),
        "{spent}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("time since start (h)") && !html.contains("time since start (s)"));
}

#[test]
fn growth_past_the_monthly_cap_offers_no_next_plan() {
    // Ten minutes at 2 requests a second cost $0.69 ($2,980.80 a month); a $4,000 cap holds
    // today's traffic and not x1.5 (about $4,471) or x2.
    let text = DAY
        .replace("duration = \"24h\"", "duration = \"10m\"")
        .replace("rpd = 10000", "rpd = 0")
        .replace("monthly_cap_usd = 500", "monthly_cap_usd = 4000")
        .replace("rate = 0.5", "rate = 2");
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "grow", &text);
    let out = dir.path().join("plan");
    let o = stampede(&[
        "plan",
        path.to_str().unwrap(),
        "--no-probe",
        "--growth",
        "1.5,2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    let growth = plan["growth"].as_array().unwrap();
    assert_eq!(growth.len(), 2);
    for g in growth {
        assert_eq!(g["holds"], false, "{g}");
        assert!(g["recommended_workers"].is_null(), "no next plan over the cap: {g}");
        let missed: Vec<&str> = g["missed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        assert!(missed.contains(&"monthly spend cap"), "{missed:?}");
        let why = g["why"].as_str().unwrap();
        assert!(
            why.starts_with("No worker count fits: The tier1 monthly spend cap is $4,000.00"),
            "{why}"
        );
    }
    // About $4,471 a month at x1.5 (the grown schedule's own count, over the seeds run).
    let why = growth[0]["why"].as_str().unwrap();
    assert!(why.contains("$4,4") || why.contains("$4,5"), "{why}");
}

/// The same day with a lunch hour at four times the rate (the constant 0.5/s with a spike from
/// 12:00 to 13:00), run for its first hour only: the day is 27 hours' worth of that hour's rate.
#[test]
fn a_short_window_of_a_day_is_carried_over_in_the_days_shape() {
    let dir = tempfile::tempdir().unwrap();
    let lunch = DAY
        .replace("rpd = 10000", "rpd = 0")
        .replace("monthly_cap_usd = 500", "monthly_cap_usd = 100000")
        .replace(
            "rate = 0.5\n",
            "rate = 0.5\nspikes = [{ at = \"12h\", length = \"1h\", factor = 4 }]\n",
        );
    let path = scenario(dir.path(), "lunch", &lunch);
    let out = dir.path().join("out");
    let o = stampede(&[
        "run",
        path.to_str().unwrap(),
        "--duration",
        "1h",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let s: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(s["requests"]["scheduled"], 1_800);
    // The spike is Poisson: 5,400 extra arrivals expected, so the day's own count decides the
    // ratio; it lies within a few percent of 27/24.
    let ratio = s["day_over_window"].as_f64().unwrap();
    assert!((ratio - 27.0 / 24.0).abs() < 0.02, "{ratio}");
    let h = &s["horizon"];
    let per_day = h["requests_per_day"].as_f64().unwrap();
    assert!((per_day - 1_800.0 * 24.0 * ratio).abs() < 1.0, "{per_day}");
    let cost = s["cost_usd"].as_f64().unwrap();
    let month = h["cost_per_month_usd"].as_f64().unwrap();
    assert!((month - cost * 24.0 * 30.0 * ratio).abs() < 0.01, "{month} vs {cost}");
    assert!(
        h["basis"]
            .as_str()
            .unwrap()
            .contains("1h window's average rate times 1.1"),
        "{}",
        h["basis"]
    );
    // A scenario of one hour says nothing of the rest of its day: the hour is carried over as is.
    let hour = lunch.replace("duration = \"24h\"", "duration = \"1h\"");
    let path = scenario(dir.path(), "hour", &hour);
    let o = stampede(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]);
    let s: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(s["day_over_window"].is_null());
    assert!(s["horizon"]["basis"]
        .as_str()
        .unwrap()
        .contains("a peak window overstates it"));
}
