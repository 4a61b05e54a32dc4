//! Engine behaviour under the paused clock: exact times, exact accounting.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use stampede_mock::{MockModel, MockProfile, MockSettings};
use tokio::time::sleep;

use super::record::{Collected, EndReason, Outcome};
use super::test_support::{ok, secs, Scripted};
use super::*;
use crate::backend::sim::SimBackend;
use crate::backend::{Attempt, AttemptError, Backend, ErrorKind};
use crate::strategy::retry::GiveUp;
use crate::strategy::StrategySpec;
use crate::traffic::{Fixed, PlannedRequest};

fn strategy(src: &str) -> StrategySpec {
    let s: StrategySpec = toml::from_str(src).unwrap();
    s.validate().unwrap();
    s
}

fn every(n: u64, gap: Duration) -> Vec<PlannedRequest> {
    (0..n)
        .map(|i| PlannedRequest {
            id: i,
            at: gap * i as u32,
            input_tokens: 100,
            output_tokens: 10,
            lane: 0,
            model: 0,
            prompt_key: i,
            stream: false,
            user: 0,
            history: None,
            prefix: None,
        })
        .collect()
}

async fn run(
    strategy: StrategySpec,
    backend: Arc<dyn Backend>,
    traffic: Vec<PlannedRequest>,
) -> (Collected, EngineReport) {
    let mut sink = Collected::default();
    let config = EngineConfig {
        strategy,
        models: vec![Arc::from("gemini-2.5-flash")],
        seed: 1,
        lanes: Vec::new(),
        cache_ttl: Duration::from_secs(3600),
        real_time: false,
        sticky: false,
    };
    let report = Engine::new(config, backend, &mut sink, Arc::new(Progress::default()))
        .run(&mut Fixed::new(traffic))
        .await;
    (sink, report)
}

fn assert_each_request_ends_once(c: &Collected, scheduled: u64) {
    assert_eq!(c.requests.len() as u64, scheduled);
    let ids: HashSet<u64> = c.requests.iter().map(|r| r.id).collect();
    assert_eq!(ids.len() as u64, scheduled, "a request ended twice");
}

#[tokio::test(start_paused = true)]
async fn open_loop_takes_requests_in_at_intended_times_and_measures_from_them() {
    // One worker, 10 s per request, 10 requests per second for 2 s: the backlog grows, but
    // every request is still taken in on time and its latency counts the queueing.
    let backend = Arc::new(Scripted(Box::new(|_| (secs(10.0), ok()))));
    let s = strategy("workers = 1\ntimeout = { attempt = \"60s\", total = \"1000s\" }");
    let (c, report) = run(s, backend, every(20, secs(0.1))).await;
    assert_each_request_ends_once(&c, 20);
    for r in &c.requests {
        assert_eq!(r.arrived, r.intended, "request {} taken in late", r.id);
        assert_eq!(r.end, EndReason::Ok);
    }
    let last = c.requests.iter().find(|r| r.id == 19).unwrap();
    assert_eq!(last.ended, secs(200.0));
    assert_eq!(last.latency(), secs(198.1));
    assert_eq!(last.dispatched, Some(secs(190.0)));
    assert_eq!(report.elapsed, secs(200.0));
}

#[tokio::test(start_paused = true)]
async fn full_queue_drops_new_requests() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(10.0), ok()))));
    let s = strategy("workers = 2\nqueue = { capacity = 3 }\ntimeout = { total = \"1000s\" }");
    let (c, _) = run(s, backend, every(10, secs(0.1))).await;
    assert_each_request_ends_once(&c, 10);
    let dropped: Vec<u64> = c
        .requests
        .iter()
        .filter(|r| r.end == EndReason::QueueFull)
        .map(|r| r.id)
        .collect();
    // Two go to workers, three wait, the remaining five find the queue full.
    assert_eq!(dropped, [5, 6, 7, 8, 9]);
    assert!(c
        .requests
        .iter()
        .filter(|r| r.end.outcome() == Outcome::Dropped)
        .all(|r| r.attempts == 0));
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_and_honor_the_servers_delay() {
    let backend = Arc::new(Scripted(Box::new(|a: &Attempt| {
        if a.number == 1 {
            let mut e = AttemptError::new(ErrorKind::Status(429));
            e.retry_delay = Some(secs(5.0));
            (secs(0.2), Err(e))
        } else if a.number == 2 {
            (secs(0.2), Err(AttemptError::new(ErrorKind::Status(503))))
        } else {
            (secs(0.2), ok())
        }
    })));
    let s = strategy("[retry]\npolicy = \"exponential\"\njitter = \"none\"\nbase = \"1s\"\nmax_attempts = 3");
    let (c, _) = run(s, backend, every(1, secs(1.0))).await;
    let sent: Vec<Duration> = c.attempts.iter().map(|a| a.sent).collect();
    // 429 at 0.2 s, server asks 5 s (more than 2 s backoff); 503 at 5.4 s, backoff 4 s.
    assert_eq!(sent, [secs(0.0), secs(5.2), secs(9.4)]);
    assert_eq!(c.requests[0].end, EndReason::Ok);
    assert_eq!(c.requests[0].attempts, 3);
    assert_eq!(c.requests[0].ended, secs(9.6));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_cancels_and_total_deadline_ends_retries() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(3600.0), ok()))));
    let s = strategy(
        "timeout = { attempt = \"2s\", total = \"5s\" }\n[retry]\njitter = \"none\"\nbase = \"250ms\"\nmax_attempts = 10",
    );
    let (c, _) = run(s, backend, every(1, secs(1.0))).await;
    // Attempts at 0 (times out at 2), 2.5 (times out at 4.5), 5.0 is past the deadline.
    let sent: Vec<Duration> = c.attempts.iter().map(|a| a.sent).collect();
    assert_eq!(sent, [secs(0.0), secs(2.5)]);
    assert!(c.attempts.iter().all(|a| a.result == Err(ErrorKind::Timeout)));
    assert_eq!(
        c.requests[0].end,
        EndReason::Error {
            last: ErrorKind::Timeout,
            gave_up: GiveUp::Deadline
        }
    );
    assert_eq!(c.requests[0].ended, secs(4.5));
}

#[tokio::test(start_paused = true)]
async fn requests_that_outwait_their_deadline_in_the_queue_are_dropped() {
    // The rate limiter holds requests back for a minute; their 10 s deadline passes in the queue.
    let backend = Arc::new(Scripted(Box::new(|_| (secs(1.0), ok()))));
    let s = strategy("workers = 5\nrate_limit = { rpm = 1, burst_requests = 1 }\ntimeout = { total = \"10s\" }");
    let (c, _) = run(s, backend, every(3, Duration::ZERO)).await;
    assert_each_request_ends_once(&c, 3);
    let by_id = |id| c.requests.iter().find(|r| r.id == id).unwrap();
    assert_eq!((by_id(0).end, by_id(0).ended), (EndReason::Ok, secs(1.0)));
    for id in [1, 2] {
        assert_eq!(
            (by_id(id).end, by_id(id).ended, by_id(id).attempts),
            (EndReason::QueueDeadline, secs(10.0), 0)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_frees_before_the_next_deadline_so_the_last_attempt_gets_what_is_left() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(10.0), ok()))));
    let s = strategy("workers = 1\ntimeout = { attempt = \"60s\", total = \"15s\" }");
    let (c, _) = run(s, backend, every(2, secs(1.0))).await;
    let by_id = |id| c.requests.iter().find(|r| r.id == id).unwrap();
    assert_eq!(by_id(0).end, EndReason::Ok);
    // Request 1 waits 9 s for the worker, then has 6 s left of its 15 s.
    assert_eq!(by_id(1).dispatched, Some(secs(10.0)));
    assert_eq!(by_id(1).ended, secs(16.0));
    assert_eq!(
        by_id(1).end,
        EndReason::Error {
            last: ErrorKind::Timeout,
            gave_up: GiveUp::MaxAttempts
        }
    );
}

#[tokio::test(start_paused = true)]
async fn client_rate_limit_paces_dispatch() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(0.1), ok()))));
    let s = strategy("workers = 50\nrate_limit = { rpm = 60, burst_requests = 1 }\ntimeout = { total = \"1000s\" }");
    let (c, _) = run(s, backend, every(10, Duration::ZERO)).await;
    let mut sent: Vec<Duration> = c.attempts.iter().map(|a| a.sent).collect();
    sent.sort();
    assert_eq!(sent, (0..10).map(|i| secs(i as f64)).collect::<Vec<_>>());
}

/// The engine's settings for `strategy` over one model, `m`, in virtual time.
fn one_model(strategy: StrategySpec) -> EngineConfig {
    EngineConfig {
        strategy,
        models: vec![Arc::from("m")],
        seed: 1,
        lanes: Vec::new(),
        cache_ttl: Duration::from_secs(3600),
        real_time: false,
        sticky: false,
    }
}

#[tokio::test(start_paused = true)]
async fn stop_drops_the_queue_and_lets_inflight_finish() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(10.0), ok()))));
    let s = strategy("workers = 1\ntimeout = { total = \"1000s\" }");
    let progress = Arc::new(Progress::default());
    let mut sink = Collected::default();
    let config = one_model(s);
    let stopper = {
        let p = progress.clone();
        tokio::spawn(async move {
            sleep(secs(2.5)).await;
            p.request_stop();
        })
    };
    let report = Engine::new(config, backend, &mut sink, progress)
        .run(&mut Fixed::new(every(100, secs(1.0))))
        .await;
    stopper.await.unwrap();
    assert!(report.stopped);
    // Requests 0, 1, 2 arrived; 0 was in flight and finishes at 10 s; 1 and 2 are dropped.
    assert_each_request_ends_once(&sink, 3);
    let ends: Vec<(u64, EndReason)> = sink.requests.iter().map(|r| (r.id, r.end)).collect();
    assert!(ends.contains(&(0, EndReason::Ok)));
    assert!(ends.contains(&(1, EndReason::Stopped)) && ends.contains(&(2, EndReason::Stopped)));
}

#[tokio::test(start_paused = true)]
async fn abort_ends_the_requests_in_flight_at_once_and_records_their_attempts() {
    let backend = Arc::new(Scripted(Box::new(|_| (secs(10.0), ok()))));
    let s = strategy("workers = 2\ntimeout = { total = \"1000s\" }");
    let progress = Arc::new(Progress::default());
    let mut sink = Collected::default();
    let config = one_model(s);
    let aborter = {
        let p = progress.clone();
        tokio::spawn(async move {
            sleep(secs(2.5)).await;
            p.request_stop();
            sleep(secs(0.5)).await;
            p.request_abort();
        })
    };
    let start = tokio::time::Instant::now();
    let report = Engine::new(config, backend, &mut sink, progress)
        .run(&mut Fixed::new(every(100, secs(1.0))))
        .await;
    aborter.await.unwrap();
    assert!(report.stopped);
    // The run ends at the abort (3 s), not when the attempts in flight would have (10 s, 11 s).
    assert_eq!(start.elapsed(), secs(3.0));
    // Requests 0 and 1 were in flight, 2 queued: all three end as stopped, exactly once, and
    // the two running attempts are recorded as cancelled.
    assert_each_request_ends_once(&sink, 3);
    assert!(
        sink.requests.iter().all(|r| r.end == EndReason::Stopped),
        "{:?}",
        sink.requests
    );
    assert_eq!(sink.attempts.iter().filter(|a| a.cancelled).count(), 2);
}

#[tokio::test(start_paused = true)]
async fn every_request_ends_once_across_every_fault() {
    let settings: MockSettings = toml::from_str(
        r#"
        rpm = 300
        latency = { dist = "lognormal", median = "300ms", p99 = "3s" }
        errors = { rate_500 = 0.05, rate_503 = 0.05, rate_504 = 0.05, rate_reset = 0.05, rate_hang = 0.05, rate_truncate = 0.05, rate_malformed = 0.05, rate_slow_headers = 0.05, slow_headers = "2s" }
        "#,
    )
    .unwrap();
    let profile = MockProfile::preset("tier1").unwrap().patched(&settings).unwrap();
    let backend = Arc::new(SimBackend::new(
        Arc::new(MockModel::new(profile, 5)),
        Default::default(),
    ));
    let s = strategy(
        "workers = 8\nqueue = { capacity = 20 }\ntimeout = { attempt = \"4s\", total = \"20s\" }\n[retry]\nmax_attempts = 4\nbase = \"200ms\"",
    );
    let mut traffic = every(3000, secs(0.05));
    for (i, r) in traffic.iter_mut().enumerate() {
        r.stream = i % 2 == 0;
    }
    let (c, _) = run(s, backend, traffic).await;
    assert_each_request_ends_once(&c, 3000);
    let count = |o| c.requests.iter().filter(|r| r.end.outcome() == o).count();
    let (ok, failed, dropped) = (
        count(Outcome::Succeeded),
        count(Outcome::Failed),
        count(Outcome::Dropped),
    );
    assert_eq!(ok + failed + dropped, 3000);
    assert!(ok > 0 && failed > 0 && dropped > 0, "{ok} {failed} {dropped}");
    // Every attempt belongs to a request that was sent, and attempt counts agree.
    let total_attempts: u32 = c.requests.iter().map(|r| r.attempts).sum();
    assert_eq!(total_attempts as usize, c.attempts.len());
    let kinds: HashSet<String> = c
        .attempts
        .iter()
        .filter_map(|a| a.result.err())
        .map(|k| k.label())
        .collect();
    for k in ["429", "500", "503", "504", "transport", "timeout", "decode", "stream"] {
        assert!(kinds.contains(k), "no {k} among {kinds:?}");
    }
}
