//! The advice agrees with itself: for every bundled scenario, the limit that binds leads the
//! warnings, and no setting is recommended that its own reason (or that limit) argues against.

use std::time::Duration;

use stampede::advice::binding::{binding, minute_quota_too_small, Binding};
use stampede::summary::Summary;

use crate::support::{root, run_to};

/// Runs a bundled scenario in simulation for its own window, at most 10 minutes.
fn run(path: &std::path::Path) -> Summary {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let own = doc
        .get("duration")
        .and_then(|d| d.as_str())
        .and_then(|d| humantime::parse_duration(d).ok())
        .unwrap_or(Duration::from_secs(60));
    let window = own.min(Duration::from_secs(600));
    let out = tempfile::tempdir().unwrap();
    let (_, s) = run_to(
        path,
        out.path(),
        &[
            "--target",
            "sim",
            "--duration",
            &format!("{}s", window.as_secs().max(1)),
        ],
    );
    serde_json::from_value(s).unwrap()
}

/// The checks on one run's advice; returns what contradicts itself.
fn contradictions(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let a = &s.advice;
    let bound = binding(s);
    let rec = |setting: &str| a.recommendations.iter().find(|r| r.setting == setting);
    if let Some(b) = bound {
        let kind = b.warning_kind();
        if let Some(i) = a.warnings.iter().position(|w| w.kind == kind) {
            if i != 0 {
                out.push(format!("the binding {kind} warning is #{i}, not first"));
            }
        }
        if b.is_quota() {
            if let Some(w) = rec("workers") {
                let (value, current): (u64, u64) = (w.value.parse().unwrap(), w.current.parse().unwrap());
                if value > current {
                    out.push(format!("{b:?} binds but {value} workers (from {current}) are advised"));
                }
            }
        }
        let above_on_average = b == Binding::RequestsPerMinute && minute_quota_too_small(s);
        if (b == Binding::DailyQuota || above_on_average) && rec("rate_limit").is_some() {
            out.push(format!(
                "{b:?} binds (above the quota on average) but a rate limit is advised"
            ));
        }
    }
    for r in &a.recommendations {
        let more = r
            .value
            .parse::<u64>()
            .ok()
            .zip(r.current.parse::<u64>().ok())
            .is_some_and(|(v, c)| v > c);
        if more && (r.why.contains("only collect 429s") || r.why.contains("no worker count")) {
            out.push(format!(
                "{} raised to {} while its reason says more do not help",
                r.setting, r.value
            ));
        }
        if r.value == r.current && r.setting != "workers" {
            out.push(format!("{} advised at the value it ran with", r.setting));
        }
    }
    if s.requests.gave_up.get("daily_quota").is_some_and(|n| *n > 0)
        && !a.warnings.iter().any(|w| w.kind == "daily_quota")
    {
        out.push("requests gave up on the daily quota and no warning names it".into());
    }
    out
}

#[test]
fn no_scenario_advice_contradicts_itself() {
    let mut failures = Vec::new();
    let mut bindings = Vec::new();
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = run(&path);
        bindings.push(binding(&s));
        for c in contradictions(&s) {
            failures.push(format!("{}: {c}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The walk covers every kind of limit, or it proves little.
    for b in [
        Binding::DailyQuota,
        Binding::RequestsPerMinute,
        Binding::Upstream,
        Binding::Workers,
    ] {
        assert!(bindings.contains(&Some(b)), "no bundled scenario is bound by {b:?}");
    }
}

#[test]
fn a_quota_bound_run_is_not_advised_more_workers() {
    // The quickstart: 10/s against 120 RPM. The per-minute quota binds; the workers advised are
    // those its busiest rate keeps busy while a minute's quota lasts, fewer than the run had.
    let out = tempfile::tempdir().unwrap();
    let (_, s) = run_to(
        &root().join("scenarios/quickstart.toml"),
        out.path(),
        &["--target", "sim"],
    );
    let s: Summary = serde_json::from_value(s).unwrap();
    assert_eq!(binding(&s), Some(Binding::RequestsPerMinute));
    assert_eq!(s.advice.warnings[0].kind, "quota_too_small");
    assert!(
        s.advice.warnings[0].message.contains("needs a quota of at least"),
        "{:?}",
        s.advice.warnings[0]
    );
    let w = s
        .advice
        .recommendations
        .iter()
        .find(|r| r.setting == "workers")
        .unwrap();
    let service_s = s.service_ms.mean.unwrap() / 1000.0;
    let peak = s.throughput.peak_offered_10s as f64 / 10.0;
    assert_eq!(w.value, ((peak * service_s * 1.25).ceil() as u64).to_string(), "{w:?}");
    assert!(w.value.parse::<u64>().unwrap() < 16);
    assert!(contradictions(&s).is_empty(), "{:?}", contradictions(&s));
}
