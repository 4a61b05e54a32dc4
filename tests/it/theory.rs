//! The simulator against queueing theory (M/M/c, Erlang C) and quota arithmetic.
//!
//! Holding a simulation to Erlang C within 2% needs tens of millions of customers at 90%
//! utilisation: a single 180,000-request run scatters by ±10% between seeds, and the scatter
//! falls only with the square root of the run length. Running the full engine that long in a
//! test would take minutes, so the check is split in two, and together they are exact:
//!
//! 1. **The engine adds no error of its own.** The engine runs an M/M/c set-up in virtual time.
//!    The same sample path — each request's intended arrival and the service time the mock
//!    drew for it — is replayed through an exact c-server FIFO recursion (Kiefer–Wolfowitz).
//!    Mean queue wait and the share of requests that waited must agree within 0.5%: the only
//!    difference allowed is tokio's 1 ms timer resolution.
//! 2. **The samplers the engine uses converge to Erlang C.** The same traffic generator
//!    (Poisson arrivals) and the mock's service-time sampler feed the recursion for millions of
//!    customers. Run lengths were chosen from batch-means estimates so that the standard error
//!    of the mean wait is at most 0.4% (the test computes and asserts it), making the 2%
//!    tolerance at least five standard errors wide.

use stampede_mock::duration::secs as secs_f64;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use std::path::Path;
use std::sync::Arc;

use stampede::engine::record::Collected;
use stampede::engine::Progress;
use stampede::prepare::{Prepared, RunOptions};
use stampede::queueing::MMc;
use stampede::run::execute;
use stampede::scenario::Scenario;
use stampede::traffic::{TrafficPlan, TrafficSpec};
use stampede_mock::dist::DurationDist;
use stampede_mock::rng::stream_rng;

/// Exact FIFO waits of customers arriving at `arrivals` (sorted) needing `services`, on `c`
/// servers: each takes the server that frees first.
pub fn fifo_waits(c: usize, arrivals: impl Iterator<Item = (f64, f64)>, mut each: impl FnMut(f64)) {
    let mut free: BinaryHeap<Reverse<u64>> = (0..c).map(|_| Reverse(0)).collect();
    for (a, s) in arrivals {
        // Nanosecond integers keep the heap ordering exact.
        let a_ns = (a * 1e9) as u64;
        let Reverse(f) = free.pop().expect("c > 0");
        let start = a_ns.max(f);
        each((start - a_ns) as f64 / 1e9);
        free.push(Reverse(start + (s * 1e9) as u64));
    }
}

/// Mean wait, share waited, and the batch-means standard errors of both (relative), for `n`
/// customers of an M/M/c queue drawn with stampede's own traffic generator and the mock's
/// exponential service sampler.
fn recursion_estimate(q: MMc, n: u64, seed: u64) -> (f64, f64, f64, f64) {
    let text = format!(
        "arrival = \"poisson\"\nrate = {}\ninput_tokens = 1\noutput_tokens = 1",
        q.lambda
    );
    let spec: TrafficSpec = toml::from_str(&text).unwrap();
    let service = DurationDist::Exponential(secs_f64(q.service_s)).sampler();
    let mut rng = stream_rng(seed, "service");
    let traffic = TrafficPlan::prepare(&spec, Path::new("."), "gemini-2.5-flash")
        .unwrap()
        .open_loop(seed, Duration::from_secs(1 << 40))
        .unwrap();
    const BATCHES: usize = 50;
    let per_batch = n / BATCHES as u64;
    let (mut w, mut p) = (vec![0.0; BATCHES], vec![0.0; BATCHES]);
    let mut k = 0u64;
    let customers = traffic
        .take(n as usize)
        .map(|r| (r.at.as_secs_f64(), service.sample(&mut rng).as_secs_f64()));
    fifo_waits(q.c as usize, customers, |wait| {
        let b = ((k / per_batch) as usize).min(BATCHES - 1);
        w[b] += wait;
        p[b] += f64::from(u8::from(wait > 0.0));
        k += 1;
    });
    let stats = |v: &[f64]| {
        let means: Vec<f64> = v.iter().map(|x| x / per_batch as f64).collect();
        let m = means.iter().sum::<f64>() / BATCHES as f64;
        let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (BATCHES - 1) as f64;
        (m, (var / BATCHES as f64).sqrt() / m)
    };
    let (wq, wq_se) = stats(&w);
    let (pw, pw_se) = stats(&p);
    (wq, wq_se, pw, pw_se)
}

/// Part 2: stampede's Poisson generator and the mock's exponential sampler, through the exact
/// recursion, against Erlang C. `n` was sized from batch-means runs so the standard error of
/// the mean wait stays at or under 0.5% (asserted), a quarter of the 2% tolerance.
fn samplers_match_erlang_c(rho: f64, n: u64) {
    let q = MMc {
        lambda: rho * 4.0 / 10.0,
        service_s: 10.0,
        c: 4,
    };
    let (wq, wq_se, pw, pw_se) = recursion_estimate(q, n, 7);
    let wq_err = wq / q.mean_wait_s() - 1.0;
    let pw_err = pw / q.p_wait() - 1.0;
    eprintln!(
        "M/M/4 at {rho}: mean wait {wq:.4} s vs Erlang C {:.4} s ({:+.2}%, se {:.2}%); P(wait) {pw:.4} vs {:.4} ({:+.2}%, se {:.2}%)",
        q.mean_wait_s(), 100.0 * wq_err, 100.0 * wq_se, q.p_wait(), 100.0 * pw_err, 100.0 * pw_se
    );
    assert!(
        wq_se <= 0.005 && pw_se <= 0.005,
        "run too short: standard errors {wq_se} {pw_se}"
    );
    assert!(wq_err.abs() < 0.02, "mean wait off by {:.2}%", 100.0 * wq_err);
    assert!(pw_err.abs() < 0.02, "P(wait) off by {:.2}%", 100.0 * pw_err);
}

#[test]
fn samplers_match_erlang_c_at_50_percent() {
    samplers_match_erlang_c(0.5, 10_000_000);
}

#[test]
fn samplers_match_erlang_c_at_70_percent() {
    samplers_match_erlang_c(0.7, 10_000_000);
}

#[test]
fn samplers_match_erlang_c_at_80_percent() {
    samplers_match_erlang_c(0.8, 16_000_000);
}

#[test]
fn samplers_match_erlang_c_at_90_percent() {
    samplers_match_erlang_c(0.9, 36_000_000);
}

fn mmc_scenario(q: MMc, n: u64, seed: u64) -> String {
    format!(
        r#"
name = "mmc"
seed = {seed}
duration = "{secs}s"
[target]
kind = "sim"
[target.mock]
rpm = 0
tpm = 0
rpd = 0
latency = {{ dist = "exponential", mean = "{s}s" }}
[traffic]
arrival = "poisson"
rate = {lambda}
input_tokens = 10
output_tokens = 10
[strategy]
workers = {c}
queue = {{ capacity = 100000000 }}
timeout = {{ attempt = "100000h", total = "100000h" }}
"#,
        secs = (n as f64 / q.lambda).round(),
        s = q.service_s,
        lambda = q.lambda,
        c = q.c
    )
}

/// Part 1: the engine against the exact recursion on its own sample path.
fn engine_matches_exact_fifo(rho: f64, n: u64) {
    let q = MMc {
        lambda: rho * 4.0 / 10.0,
        service_s: 10.0,
        c: 4,
    };
    let text = mmc_scenario(q, n, 11);
    let loaded = Scenario::parse(&text, Path::new("mmc.toml")).unwrap();
    let plan = Prepared::new(&loaded, &RunOptions::default()).unwrap();
    let mut records = Collected::default();
    let summary = execute(&plan, Arc::new(Progress::default()), Some(&mut records)).unwrap();
    assert_eq!(summary.requests.succeeded, summary.requests.scheduled);
    let mut by_id: Vec<(f64, f64, f64)> = vec![(0.0, 0.0, 0.0); records.requests.len()];
    for r in &records.requests {
        let wait = (r.dispatched.unwrap() - r.intended).as_secs_f64();
        by_id[r.id as usize] = (r.intended.as_secs_f64(), 0.0, wait);
    }
    for a in &records.attempts {
        // The service time the mock drew: the answer was due at `first_byte`.
        by_id[a.request_id as usize].1 = (a.first_byte.unwrap() - a.sent).as_secs_f64();
    }
    let (mut exact_sum, mut exact_waited) = (0.0, 0u64);
    fifo_waits(4, by_id.iter().map(|&(a, s, _)| (a, s)), |w| {
        exact_sum += w;
        exact_waited += u64::from(w > 0.0);
    });
    let engine_sum: f64 = by_id.iter().map(|x| x.2).sum();
    let engine_waited = summary.requests.waited;
    let wq_err = engine_sum / exact_sum - 1.0;
    let pw_err = engine_waited as f64 / exact_waited as f64 - 1.0;
    eprintln!(
        "engine vs exact FIFO at {rho} over {} requests: mean wait {:+.3}%, waited {} vs {} ({:+.3}%)",
        by_id.len(),
        100.0 * wq_err,
        engine_waited,
        exact_waited,
        100.0 * pw_err
    );
    assert!(
        wq_err.abs() < 0.005,
        "engine mean wait differs from the exact path by {:.3}%",
        100.0 * wq_err
    );
    assert!(
        pw_err.abs() < 0.005,
        "engine waited share differs from the exact path by {:.3}%",
        100.0 * pw_err
    );
    // The summary's mean queue wait (from its histogram, arrival to dispatch) agrees too.
    let summary_mean = summary.queue_wait_ms.mean.unwrap() / 1000.0;
    let records_mean = engine_sum / by_id.len() as f64;
    assert!(
        (summary_mean / records_mean - 1.0).abs() < 0.005,
        "{summary_mean} vs {records_mean}"
    );
}

#[test]
fn engine_matches_exact_fifo_at_50_percent() {
    engine_matches_exact_fifo(0.5, 100_000);
}

#[test]
fn engine_matches_exact_fifo_at_90_percent() {
    engine_matches_exact_fifo(0.9, 100_000);
}

#[test]
fn accepted_rate_equals_the_rpm_quota_over_an_hour() {
    // Poisson at 20/s (1,200 per minute) against 600 RPM, no retries, one simulated hour.
    let text = r#"
name = "quota"
seed = 5
duration = "1h"
[target]
kind = "sim"
[target.mock]
rpm = 600
tpm = 0
rpd = 0
latency = { dist = "constant", value = "200ms" }
[traffic]
arrival = "poisson"
rate = 20
input_tokens = 10
output_tokens = 10
[strategy]
workers = 64
"#;
    let loaded = Scenario::parse(text, Path::new("quota.toml")).unwrap();
    let s = execute(
        &Prepared::new(&loaded, &RunOptions::default()).unwrap(),
        Arc::new(Progress::default()),
        None,
    )
    .unwrap();
    let per_minute = s.requests.succeeded as f64 / 60.0;
    eprintln!(
        "accepted {} in 60 min: {per_minute:.1} per minute against a quota of 600",
        s.requests.succeeded
    );
    assert!((per_minute / 600.0 - 1.0).abs() < 0.01, "{per_minute} per minute");
    assert_eq!(s.attempts.status_429 + s.requests.succeeded, s.requests.scheduled);
}
