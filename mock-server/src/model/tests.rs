//! Tests of the behaviour model: quotas, capacity, latency, faults, determinism.

use super::*;
use crate::dist::{DurationDist, NumberDist};
use crate::duration::secs as secs_f64;
use crate::profile::MockSettings;

fn profile(settings: &str) -> MockProfile {
    let s: MockSettings = toml::from_str(settings).unwrap();
    MockProfile::preset("tier1").unwrap().patched(&s).unwrap()
}

fn call(model: &str) -> Call<'_> {
    Call {
        api_key: Some("k"),
        model,
        input_tokens: 100,
        output_hint: Some(50),
        ..Call::default()
    }
}

#[tokio::test(start_paused = true)]
async fn constant_latency_and_decode_rate_set_the_timeline() {
    let m = MockModel::new(
        profile("latency = { dist = \"constant\", value = \"500ms\" }\ndecode_tps = 100\nstream_chunk_tokens = 10"),
        1,
    );
    let t0 = Instant::now();
    let Answer::Serve(g) = m.generate(call("gemini-2.5-flash")).await else {
        panic!("expected an answer")
    };
    assert_eq!(
        g.usage,
        Usage {
            prompt: 100,
            candidates: 50,
            thoughts: 0,
            cached: 0
        }
    );
    assert_eq!(g.finish, FinishReason::Stop);
    assert_eq!(g.chunk_count(), 5);
    assert_eq!(g.first_chunk_at() - t0, Duration::from_millis(600));
    assert_eq!(g.done_at() - t0, Duration::from_millis(1000));
    assert_eq!(g.tokens_after(4), 50);
}

#[tokio::test(start_paused = true)]
async fn max_output_tokens_cuts_the_answer() {
    let m = MockModel::new(profile(""), 1);
    let mut c = call("gemini-2.5-flash");
    c.max_output_tokens = Some(20);
    let Answer::Serve(g) = m.generate(c).await else {
        panic!()
    };
    assert_eq!(g.usage.candidates, 20);
    assert_eq!(g.finish, FinishReason::MaxTokens);
}

#[tokio::test(start_paused = true)]
async fn auth_model_and_size_errors_come_first() {
    let m = MockModel::new(profile("api_keys = [\"good\"]"), 1);
    let mut c = call("gemini-2.5-flash");
    c.api_key = None;
    assert!(matches!(m.generate(c).await, Answer::Error(e) if e.status() == 403));
    let mut c = call("gemini-2.5-flash");
    c.api_key = Some("bad");
    assert!(matches!(m.generate(c).await, Answer::Error(e) if e.status() == 400));
    let mut c = call("gemini-9");
    c.api_key = Some("good");
    assert!(matches!(m.generate(c).await, Answer::Error(e) if e.status() == 404));
    let mut c = call("gemini-2.5-flash");
    c.api_key = Some("good");
    c.input_tokens = 2_000_000;
    assert!(
        matches!(m.generate(c).await, Answer::Error(e) if e.status() == 400 && e.to_api_error().message.contains("exceeds"))
    );
}

#[tokio::test(start_paused = true)]
async fn quota_refusal_carries_exact_retry_delay() {
    let m = MockModel::new(profile("rpm = 2"), 1);
    for _ in 0..2 {
        assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Serve(_)));
    }
    tokio::time::advance(Duration::from_millis(20_500)).await;
    let Answer::Error(e) = m.generate(call("gemini-2.5-flash")).await else {
        panic!()
    };
    assert_eq!(e.status(), 429);
    let hint = crate::errors::QuotaHint::from_error(&e.to_api_error());
    // 39.5 s left in the window, rounded up to whole seconds in the 2025 shape.
    assert_eq!(hint.retry_delay, Some(Duration::from_secs(40)));
    tokio::time::advance(Duration::from_millis(39_500)).await;
    assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Serve(_)));
    let stats = m.stats();
    assert_eq!(stats.requests["gemini-2.5-flash"][&200], 3);
    assert_eq!(stats.requests["gemini-2.5-flash"][&429], 1);
}

#[tokio::test(start_paused = true)]
async fn full_upstream_answers_503_and_slows_down() {
    let m = MockModel::new(profile("max_concurrent = 1\nbacklog = 0\noverload_slowdown = 1.0\nlatency = { dist = \"constant\", value = \"1s\" }"), 1);
    let t0 = Instant::now();
    let Answer::Serve(g) = m.generate(call("gemini-2.5-flash")).await else {
        panic!()
    };
    // Entered at full utilisation (1 of 1): service time doubled.
    assert_eq!(g.done_at() - t0, Duration::from_secs(2));
    assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Error(e) if e.status() == 503));
    drop(g);
    assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Serve(_)));
}

#[tokio::test(start_paused = true)]
async fn network_delay_adds_round_trip() {
    let m = MockModel::new(
        profile("network = { rtt = \"100ms\" }\nlatency = { dist = \"constant\", value = \"1s\" }"),
        1,
    );
    let t0 = Instant::now();
    let Answer::Serve(g) = m.generate(call("gemini-2.5-flash")).await else {
        panic!()
    };
    assert_eq!(Instant::now() - t0, Duration::from_millis(50));
    assert_eq!(g.done_at() - t0, Duration::from_millis(1100));
}

#[tokio::test(start_paused = true)]
async fn faults_follow_rates_and_windows() {
    let m = MockModel::new(
        profile("rpm = 0\nrpd = 0\nerrors = { rate_500 = 0.5 }\n[[fault_windows]]\nstart = \"10s\"\nend = \"20s\"\nerrors = { rate_503 = 1.0 }"),
        3,
    );
    let mut errors = 0;
    for _ in 0..2000 {
        if let Answer::Error(e) = m.generate(call("gemini-2.5-flash")).await {
            assert_eq!(e.status(), 500);
            errors += 1;
        }
    }
    assert!((900..1100).contains(&errors), "{errors}");
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..50 {
        assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Error(e) if e.status() == 503));
    }
}

#[tokio::test(start_paused = true)]
async fn a_fault_window_can_hit_one_model_only() {
    let m = MockModel::new(
        profile("rpm = 0\nrpd = 0\n[[fault_windows]]\nstart = \"0s\"\nend = \"20s\"\nmodels = [\"gemini-2.5-pro\"]\nerrors = { rate_503 = 1.0 }"),
        3,
    );
    for _ in 0..20 {
        assert!(matches!(m.generate(call("gemini-2.5-pro")).await, Answer::Error(e) if e.status() == 503));
        assert!(matches!(m.generate(call("gemini-2.5-flash")).await, Answer::Serve(_)));
    }
}

/// Offers Poisson arrivals at `per_period` per `period` for `periods` periods and returns
/// the accepted amount (requests, or input tokens when `tokens` > 1) per period.
async fn accepted_per_period(settings: &str, tokens: u64, per_period: f64, period: Duration, periods: u32) -> f64 {
    let m = MockModel::new(profile(settings), 2);
    let gap = rand_distr::Exp::new(per_period / period.as_secs_f64()).unwrap();
    let mut rng = crate::rng::stream_rng(3, "arrivals");
    let end = Instant::now() + period * periods;
    let mut accepted = 0u64;
    loop {
        let wait = secs_f64(rand_distr::Distribution::sample(&gap, &mut rng));
        if Instant::now() + wait >= end {
            break;
        }
        tokio::time::advance(wait).await;
        let mut c = call("gemini-2.5-flash");
        c.input_tokens = tokens;
        if let Answer::Serve(_) = m.generate(c).await {
            accepted += tokens;
        }
    }
    accepted as f64 / f64::from(periods)
}

#[tokio::test(start_paused = true)]
async fn token_quota_admits_its_limit_per_minute_over_an_hour() {
    // 1,000-token prompts at twice the TPM quota for a simulated hour.
    let per_minute = accepted_per_period(
        "rpm = 0\ntpm = 100000\nrpd = 0",
        1000,
        200.0,
        Duration::from_secs(60),
        60,
    )
    .await;
    assert!(
        (per_minute / 100_000.0 - 1.0).abs() < 0.01,
        "{per_minute} tokens per minute"
    );
}

#[tokio::test(start_paused = true)]
async fn day_quota_admits_its_limit_per_day_over_five_days() {
    let per_day = accepted_per_period(
        "rpm = 0\ntpm = 0\nrpd = 1000",
        1,
        2000.0,
        Duration::from_secs(86_400),
        5,
    )
    .await;
    assert!((per_day / 1000.0 - 1.0).abs() < 0.01, "{per_day} requests per day");
    let fixed = accepted_per_period(
        "rpm = 0\ntpm = 0\nrpd = 1000\nwindow = \"fixed\"",
        1,
        2000.0,
        Duration::from_secs(86_400),
        5,
    )
    .await;
    assert!((fixed / 1000.0 - 1.0).abs() < 0.01, "{fixed} requests per fixed day");
}

#[tokio::test(start_paused = true)]
async fn same_key_same_behaviour() {
    let p = profile("");
    let a = MockModel::new(p.clone(), 9);
    let b = MockModel::new(p, 9);
    for k in 0..20u64 {
        let mut c = call("gemini-2.5-flash");
        c.output_hint = None;
        c.rng_key = Some(k);
        let (Answer::Serve(x), Answer::Serve(y)) = (a.generate(c.clone()).await, b.generate(c).await) else {
            panic!()
        };
        assert_eq!(x.usage, y.usage);
        assert_eq!(x.done_at() - x.start, y.done_at() - y.start);
        assert_eq!(x.response_id(), y.response_id());
    }
    let _ = (DurationDist::Constant(Duration::ZERO), NumberDist::Constant(0.0));
}
