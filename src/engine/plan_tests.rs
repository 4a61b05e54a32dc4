//! The calling plan composed in the engine, exactly, under the paused clock: lane order and
//! reserved workers, overflow rules, breaker transitions, budgets, cache and dedup, fallback
//! routing, hedging, throttling and adaptive limits.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::record::{Collected, EndReason, Outcome, Served};
use super::test_support::{ok, secs, Script, Scripted};
use super::*;
use crate::backend::{Attempt, AttemptError, ErrorKind, Tokens};
use crate::strategy::retry::GiveUp;
use crate::strategy::StrategySpec;
use crate::traffic::{Fixed, PlannedRequest};

fn err(status: u16) -> Result<Tokens, AttemptError> {
    Err(AttemptError::new(ErrorKind::Status(status)))
}

fn req(id: u64, at: f64, lane: u8) -> PlannedRequest {
    PlannedRequest {
        id,
        at: secs(at),
        input_tokens: 100,
        output_tokens: 10,
        lane,
        model: 0,
        prompt_key: id,
        stream: false,
        user: 0,
        history: None,
        prefix: None,
    }
}

fn strategy(src: &str) -> StrategySpec {
    let table: toml::Table = toml::from_str(src).unwrap();
    crate::strategy::presets::resolve(&table).unwrap()
}

async fn run_with(
    s: StrategySpec,
    lanes: Vec<LaneConfig>,
    backend: Box<Script>,
    traffic: Vec<PlannedRequest>,
) -> Collected {
    let mut sink = Collected::default();
    let config = EngineConfig {
        strategy: s,
        models: vec![Arc::from("main"), Arc::from("backup")],
        seed: 3,
        lanes,
        cache_ttl: Duration::from_secs(3600),
        real_time: false,
        sticky: false,
    };
    Engine::new(
        config,
        Arc::new(Scripted(backend)),
        &mut sink,
        Arc::new(Progress::default()),
    )
    .run(&mut Fixed::new(traffic))
    .await;
    sink
}

fn by_id(c: &Collected, id: u64) -> &super::record::RequestRecord {
    c.requests.iter().find(|r| r.id == id).unwrap()
}

fn lanes(v: &[(u8, f64, u32)]) -> Vec<LaneConfig> {
    v.iter()
        .map(|&(priority, weight, reserved_workers)| LaneConfig {
            priority,
            weight,
            reserved_workers,
            deadline: None,
            ..LaneConfig::default()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn strict_priority_lets_the_urgent_lane_overtake() {
    // One worker; three batch requests (lane 1) queue behind the first; an interactive one
    // (lane 0, priority 0) arrives later and goes next.
    let s = strategy("workers = 1\nqueue = { scheduler = \"priority\" }\ntimeout = { total = \"100s\" }");
    let traffic = vec![req(0, 0.0, 1), req(1, 0.1, 1), req(2, 0.2, 1), req(3, 0.3, 0)];
    let c = run_with(
        s,
        lanes(&[(0, 1.0, 0), (1, 1.0, 0)]),
        Box::new(|_| (secs(1.0), ok())),
        traffic,
    )
    .await;
    let order: Vec<(u64, Duration)> = {
        let mut v: Vec<_> = c.requests.iter().map(|r| (r.id, r.dispatched.unwrap())).collect();
        v.sort_by_key(|x| x.1);
        v
    };
    assert_eq!(order.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 3, 1, 2]);
    // Under fifo the interactive request would have waited for both batch requests.
    let s = strategy("workers = 1\ntimeout = { total = \"100s\" }");
    let traffic = vec![req(0, 0.0, 1), req(1, 0.1, 1), req(2, 0.2, 1), req(3, 0.3, 0)];
    let c = run_with(
        s,
        lanes(&[(0, 1.0, 0), (1, 1.0, 0)]),
        Box::new(|_| (secs(1.0), ok())),
        traffic,
    )
    .await;
    assert_eq!(by_id(&c, 3).dispatched, Some(secs(3.0)));
}

#[tokio::test(start_paused = true)]
async fn reserved_workers_keep_a_lane_moving_under_a_flood() {
    // Two workers, one reserved for lane 0; lane 1 floods with 20 slow requests.
    let s = strategy("workers = 2\ntimeout = { total = \"1000s\" }");
    let mut traffic: Vec<_> = (0..20).map(|i| req(i, 0.0, 1)).collect();
    traffic.push(req(20, 1.0, 0));
    let c = run_with(
        s,
        lanes(&[(0, 1.0, 1), (1, 1.0, 0)]),
        Box::new(|_| (secs(10.0), ok())),
        traffic,
    )
    .await;
    assert_eq!(
        by_id(&c, 20).dispatched,
        Some(secs(1.0)),
        "the reserved worker was free"
    );
    // The flood only ever used the one shared worker: its 20 requests take 200 s.
    assert_eq!(c.requests.iter().map(|r| r.ended).max(), Some(secs(200.0)));
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_and_block_overflow() {
    let traffic: Vec<_> = (0..6).map(|i| req(i, i as f64 * 0.1, 0)).collect();
    let s =
        strategy("workers = 1\nqueue = { capacity = 2, overflow = \"drop-oldest\" }\ntimeout = { total = \"100s\" }");
    let c = run_with(s, vec![], Box::new(|_| (secs(10.0), ok())), traffic.clone()).await;
    let evicted: Vec<u64> = c
        .requests
        .iter()
        .filter(|r| r.end == EndReason::QueueEvicted)
        .map(|r| r.id)
        .collect();
    assert_eq!(evicted, [1, 2, 3], "each newcomer pushed out the oldest waiting");
    let s = strategy("workers = 1\nqueue = { capacity = 2, overflow = \"block\" }\ntimeout = { total = \"100s\" }");
    let c = run_with(s, vec![], Box::new(|_| (secs(10.0), ok())), traffic).await;
    assert!(
        c.requests.iter().all(|r| r.end == EndReason::Ok),
        "nothing dropped when blocking"
    );
    // Request 3 could only enter once request 0 finished and made room (at 10 s); its latency
    // still counts from its intended start, 0.3 s.
    assert_eq!(by_id(&c, 3).arrived, secs(10.0));
    assert_eq!(by_id(&c, 3).intended, secs(0.3));
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_sheds_then_half_opens() {
    // Every call fails with 503 until t = 30 s, then succeeds.
    let s = strategy(
        "workers = 4\nbreaker = { size = 4, min_calls = 4, failure_rate = 0.5, open_for = \"20s\", half_open_calls = 2 }\ntimeout = { total = \"100s\" }",
    );
    let start = Instant::now();
    let backend = Box::new(move |_: &Attempt| {
        if Instant::now() < start + secs(30.0) {
            (secs(0.1), err(503))
        } else {
            (secs(0.1), ok())
        }
    });
    let traffic: Vec<_> = (0..50).map(|i| req(i, i as f64, 0)).collect();
    let c = run_with(s, vec![], backend, traffic).await;
    let ends: Vec<EndReason> = (0..50).map(|i| by_id(&c, i).end).collect();
    // Four failures open it at t = 3.1 s; requests 4..=23 are shed without an attempt.
    assert!(ends[..4].iter().all(|e| e.outcome() == Outcome::Failed));
    assert!(
        ends[4..24].iter().all(|e| *e == EndReason::BreakerOpen),
        "{:?}",
        &ends[4..24]
    );
    // At 23.1 s it half-opens: two trials at 24 and 25 s fail (before 30 s) and it opens again
    // until 45.1 s; after that trials succeed and it closes.
    assert!(ends[24..26].iter().all(|e| e.outcome() == Outcome::Failed));
    assert!(ends[26..46].iter().all(|e| *e == EndReason::BreakerOpen));
    assert!(ends[46..].iter().all(|e| *e == EndReason::Ok));
    assert_eq!(c.seconds.iter().find(|s| s.second == 10).unwrap().breakers_open, 1);
    assert_eq!(c.seconds.iter().find(|s| s.second == 47).unwrap().breakers_open, 0);
}

#[tokio::test(start_paused = true)]
async fn grpc_budget_runs_out_under_a_storm() {
    let s = strategy(
        "workers = 50\ntimeout = { total = \"100s\" }\n[retry]\nmax_attempts = 5\njitter = \"none\"\nbase = \"100ms\"\nbudget = { kind = \"grpc\", max_tokens = 10, token_ratio = 0.1 }",
    );
    let traffic: Vec<_> = (0..20).map(|i| req(i, i as f64 * 0.01, 0)).collect();
    let c = run_with(s, vec![], Box::new(|_| (secs(0.05), err(503))), traffic).await;
    // Tokens start at 10 and lose one per failure; retries stop once they are at 5 or below.
    let budget = c
        .requests
        .iter()
        .filter(|r| {
            matches!(
                r.end,
                EndReason::Error {
                    gave_up: GiveUp::Budget,
                    ..
                }
            )
        })
        .count();
    assert!(budget >= 14, "{budget} requests stopped by the budget");
    assert!(
        c.attempts.len() < 20 * 5 / 2,
        "{} attempts: the budget cut the storm",
        c.attempts.len()
    );
}

#[tokio::test(start_paused = true)]
async fn cache_and_dedup_answer_repeats_without_sending() {
    let s = strategy("workers = 8\ndedup = true\ncache = { ttl = \"60s\" }");
    let mut traffic = vec![req(0, 0.0, 0), req(1, 0.5, 0), req(2, 5.0, 0), req(3, 100.0, 0)];
    for r in &mut traffic {
        r.prompt_key = 7;
    }
    let c = run_with(s, vec![], Box::new(|_| (secs(2.0), ok())), traffic).await;
    assert_eq!(c.attempts.len(), 2, "one for the leader, one after the cache expired");
    assert_eq!(by_id(&c, 1).served, Served::Coalesced);
    assert_eq!(by_id(&c, 1).ended, secs(2.0), "the follower ends with its leader");
    assert_eq!(by_id(&c, 2).served, Served::Cache);
    assert_eq!(by_id(&c, 2).latency(), Duration::ZERO);
    assert_eq!(by_id(&c, 3).served, Served::Upstream, "60 s TTL: expired at 100 s");
}

#[tokio::test(start_paused = true)]
async fn fallback_routes_to_the_backup_model_or_answers_degraded() {
    let s = strategy("workers = 4\nfallback = { model = \"backup\", on = [\"429\"] }\n[retry]\nmax_attempts = 2\njitter = \"none\"\nbase = \"500ms\"");
    let backend = Box::new(|a: &Attempt| {
        if &*a.model == "main" {
            (secs(0.1), err(429))
        } else {
            (secs(0.3), ok())
        }
    });
    let c = run_with(s, vec![], backend, vec![req(0, 0.0, 0)]).await;
    let r = by_id(&c, 0);
    assert_eq!(
        (r.end, r.served, r.model, r.attempts),
        (EndReason::Ok, Served::Fallback, 1, 3)
    );
    // Two attempts on main (0.1 s, 1 s backoff, 0.1 s), then backup at once (0.3 s).
    assert_eq!(r.ended, secs(1.5));
    assert_eq!(c.attempts.iter().filter(|a| a.fallback).count(), 1);
    // One retry on main; the first attempt on the backup model is not a retry.
    assert_eq!(r.retries, 1);
    let retries: Vec<bool> = c.attempts.iter().map(|a| a.retry).collect();
    assert_eq!(retries, [false, true, false]);
    let s = strategy("workers = 4\nfallback = { degraded = true, on = [\"503\"] }");
    let c = run_with(s, vec![], Box::new(|_| (secs(0.2), err(503))), vec![req(0, 0.0, 0)]).await;
    assert_eq!(
        (by_id(&c, 0).end, by_id(&c, 0).served),
        (EndReason::Ok, Served::Degraded)
    );
}

#[tokio::test(start_paused = true)]
async fn a_hedge_wins_and_cancels_the_slow_attempt() {
    let s = strategy("workers = 4\nhedge = { after = \"1s\" }");
    let backend = Box::new(|a: &Attempt| {
        if a.number == 1 {
            (secs(10.0), ok())
        } else {
            (secs(0.5), ok())
        }
    });
    let c = run_with(s, vec![], backend, vec![req(0, 0.0, 0)]).await;
    let r = by_id(&c, 0);
    assert_eq!((r.ended, r.hedged, r.attempts), (secs(1.5), true, 2));
    let cancelled: Vec<_> = c.attempts.iter().filter(|a| a.cancelled).collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!((cancelled[0].number, cancelled[0].ended), (1, secs(1.5)));
    assert!(c.attempts.iter().any(|a| a.hedge && a.result.is_ok()));
}

#[tokio::test(start_paused = true)]
async fn sre_throttling_drops_locally_when_the_backend_refuses() {
    let s = strategy("workers = 100\nthrottle = { k = 2, window = \"2m\" }");
    let traffic: Vec<_> = (0..400).map(|i| req(i, i as f64 * 0.1, 0)).collect();
    let c = run_with(s, vec![], Box::new(|_| (secs(0.05), err(429))), traffic).await;
    let throttled = c.requests.iter().filter(|r| r.end == EndReason::Throttled).count();
    // With no accepts, the drop probability is requests / (requests + 1): nearly all shed.
    assert!(throttled > 350, "{throttled}");
    assert_eq!(c.attempts.len(), 400 - throttled);
}

#[tokio::test(start_paused = true)]
async fn sre_throttling_weighs_retries_too() {
    // The backend accepts 40% of attempts, whichever attempt they are. Counted per new request
    // (up to 5 attempts each, so 92% of requests end accepted), K = 2 would never throttle.
    // Counted per attempt the client wants to send, accepts are 40% of requests, below 1/K: the
    // drop probability 1 − 2 · 0.4 · (share sent) feeds on itself, and the throttle sheds most
    // attempts, new requests and retries alike (a backend that refuses over half of what it is
    // sent is treated as down).
    let retry = "[retry]\nmax_attempts = 5\njitter = \"none\"\nbase = \"100ms\"\nhonor_retry_delay = false";
    let traffic: Vec<_> = (0..1000).map(|i| req(i, i as f64 * 0.1, 0)).collect();
    let two_in_five = || {
        Box::new(|a: &Attempt| {
            if stampede_mock::rng::combine(a.request_id, u64::from(a.number)) % 5 < 2 {
                (secs(0.05), ok())
            } else {
                (secs(0.05), err(503))
            }
        })
    };
    let plain = run_with(
        strategy(&format!("workers = 100\n{retry}")),
        vec![],
        two_in_five(),
        traffic.clone(),
    )
    .await;
    let s = strategy(&format!(
        "workers = 100\nthrottle = {{ k = 2, window = \"2m\" }}\n{retry}"
    ));
    let c = run_with(s, vec![], two_in_five(), traffic).await;
    let retry_dropped = c
        .requests
        .iter()
        .filter(|r| {
            matches!(
                r.end,
                EndReason::Error {
                    gave_up: GiveUp::Throttled,
                    ..
                }
            )
        })
        .count();
    let new_dropped = c.requests.iter().filter(|r| r.end == EndReason::Throttled).count();
    let wanted = plain.attempts.len() as f64;
    let sent = c.attempts.len() as f64;
    assert!(
        retry_dropped > 10 && new_dropped > 500,
        "retries {retry_dropped}, new {new_dropped}"
    );
    assert!(sent / wanted < 0.5, "{sent} of {wanted} attempts sent");
    // Every request is still accounted for once.
    assert_eq!(c.requests.len(), 1000);
}

#[tokio::test(start_paused = true)]
async fn aimd_lowers_the_limit_on_drops_and_aws_adaptive_paces_after_a_throttle() {
    let s = strategy("workers = 64\nconcurrency = { algorithm = \"aimd\", initial = 40, min = 2 }");
    let traffic: Vec<_> = (0..200).map(|i| req(i, i as f64 * 0.05, 0)).collect();
    let c = run_with(s, vec![], Box::new(|_| (secs(0.2), err(503))), traffic.clone()).await;
    let last = c.seconds.iter().map(|s| s.limit_end).next_back().unwrap();
    assert_eq!(last, 2, "×0.9 per drop down to the minimum");
    let s = strategy("preset = \"aws-adaptive\"\nworkers = 64\nretry = { max_attempts = 1 }");
    let start = Instant::now();
    let backend = Box::new(move |_: &Attempt| {
        if Instant::now() < start + secs(2.0) {
            (secs(0.01), err(429))
        } else {
            (secs(0.01), ok())
        }
    });
    let c = run_with(s, vec![], backend, traffic).await;
    // Before the first throttle, attempts go at the offered 20/s; after it, the CUBIC bucket
    // holds them back (requests wait in the queue).
    let waited = c
        .requests
        .iter()
        .filter(|r| r.dispatched.unwrap_or_default() > r.arrived)
        .count();
    assert!(waited > 50, "{waited}");
}

#[tokio::test(start_paused = true)]
async fn gemini_cli_gives_up_on_a_day_quota_and_google_genai_default_never_retries() {
    let daily = Box::new(|_: &Attempt| {
        let mut e = AttemptError::new(ErrorKind::Status(429));
        e.per_day = true;
        (secs(0.1), Err(e))
    });
    let c = run_with(strategy("preset = \"gemini-cli\""), vec![], daily, vec![req(0, 0.0, 0)]).await;
    assert_eq!(
        by_id(&c, 0).end,
        EndReason::Error {
            last: ErrorKind::Status(429),
            gave_up: GiveUp::DailyQuota
        }
    );
    let c = run_with(
        strategy("preset = \"google-genai-default\""),
        vec![],
        Box::new(|_| (secs(0.1), err(503))),
        vec![req(0, 0.0, 0)],
    )
    .await;
    assert_eq!(by_id(&c, 0).attempts, 1);
    let c = run_with(
        strategy("preset = \"google-genai-retry\""),
        vec![],
        Box::new(|_| (secs(0.1), err(503))),
        vec![req(0, 0.0, 0)],
    )
    .await;
    assert_eq!(by_id(&c, 0).attempts, 5);
}
