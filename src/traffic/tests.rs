//! Traffic from `[traffic]` sections: every process family's rate and burstiness, determinism,
//! errors that point at the key, phases, spikes, and the closed loop.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::spec_error::SpecError;

fn plan(src: &str) -> Result<TrafficPlan, SpecError> {
    let spec: TrafficSpec = toml::from_str(src).map_err(|e| crate::spec_error::from_toml(&e))?;
    TrafficPlan::prepare(&spec, Path::new(env!("CARGO_MANIFEST_DIR")), "gemini-2.5-flash")
}

fn requests(src: &str, seed: u64, window: Duration) -> Vec<PlannedRequest> {
    plan(src).unwrap().open_loop(seed, window).unwrap().collect()
}

/// (mean rate over the window, CV of gaps).
fn rate_and_cv(r: &[PlannedRequest], window: Duration) -> (f64, f64) {
    let t: Vec<f64> = r.iter().map(|x| x.at.as_secs_f64()).collect();
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    (r.len() as f64 / window.as_secs_f64(), var.sqrt() / mean)
}

#[test]
fn every_family_has_its_mean_rate_and_burstiness() {
    let hours = |h: u64| Duration::from_secs(3600 * h);
    // (section, window, expected mean rate, CV range)
    let table: [(&str, Duration, f64, (f64, f64)); 9] = [
        ("arrival = \"constant\"\nrate = 10", hours(1), 10.0, (0.0, 0.001)),
        ("arrival = \"poisson\"\nrate = 10", hours(2), 10.0, (0.97, 1.03)),
        // Inhomogeneous Poisson: gaps have CV² = 2·mean·E[1/rate] − 1. Ramp 2 → 18: E[1/r] =
        // ln 9 / 16, CV = 1.321. Diurnal with amplitude A: E[1/r] = 1 / (mean·√(1 − A²)),
        // CV = 1.528 for A = 0.8.
        ("arrival = \"ramp\"\nfrom = 2\nto = 18\nover = \"2h\"", hours(2), 10.0, (1.28, 1.36)),
        // Bursts are rare events: 100 hours hold about 5,500 of them.
        ("arrival = \"bursty\"\nbase_rate = 2\nburst_rate = 100\nburst_length = \"5s\"\nburst_gap = \"60s\"", hours(100), (2.0 * 60.0 + 100.0 * 5.0) / 65.0, (2.0, 10.0)),
        ("arrival = \"diurnal\"\nrate = 10\nperiod = \"1h\"\namplitude = 0.8", hours(4), 10.0, (1.48, 1.58)),
        ("arrival = \"gamma\"\nrate = 10\ncv = 3", hours(12), 10.0, (2.7, 3.3)),
        ("arrival = \"weibull\"\nrate = 10\ncv = 3", hours(12), 10.0, (2.7, 3.3)),
        (
            "arrival = \"phases\"\n[[phases]]\narrival = \"constant\"\nrate = 5\nduration = \"30m\"\n[[phases]]\narrival = \"poisson\"\nrate = 15\nduration = \"30m\"",
            hours(1),
            10.0,
            // 9,000 gaps of exactly 0.2 s and 27,000 exponential gaps of mean 1/15 s: CV 0.816.
            (0.79, 0.84),
        ),
        (
            "arrival = \"poisson\"\nrate = 10\n[[spikes]]\nat = \"10m\"\nlength = \"6m\"\nfactor = 6",
            hours(1),
            10.0 + 50.0 * 360.0 / 3600.0,
            (1.0, 2.0),
        ),
    ];
    for (src, window, expected, (lo, hi)) in table {
        let r = requests(src, 21, window);
        let (rate, cv) = rate_and_cv(&r, window);
        assert!((rate / expected - 1.0).abs() < 0.03, "{src}\nrate {rate} vs {expected}");
        assert!(cv >= lo && cv <= hi, "{src}\ncv {cv} not in [{lo}, {hi}]");
        assert!(r.windows(2).all(|w| w[0].at <= w[1].at && w[0].id + 1 == w[1].id));
        // Same seed, same traffic; another seed, other traffic (constant is the same anyway).
        assert_eq!(
            requests(src, 21, Duration::from_secs(600)),
            r.iter()
                .cloned()
                .take_while(|x| x.at < Duration::from_secs(600))
                .collect::<Vec<_>>()
        );
        if !src.contains("constant\"\nrate") {
            assert_ne!(
                requests(src, 22, Duration::from_secs(600)),
                requests(src, 21, Duration::from_secs(600))
            );
        }
    }
}

#[test]
fn phases_may_change_request_sizes() {
    let src = "arrival = \"phases\"\ninput_tokens = 100\n[[phases]]\narrival = \"constant\"\nrate = 1\nduration = \"10s\"\n[[phases]]\narrival = \"constant\"\nrate = 1\nduration = \"10s\"\ninput_tokens = 5000";
    let r = requests(src, 1, Duration::from_secs(20));
    assert_eq!(r.len(), 20);
    assert!(r[..10].iter().all(|x| x.input_tokens == 100));
    assert!(r[10..].iter().all(|x| x.input_tokens == 5000));
}

#[test]
fn mistakes_point_at_their_key() {
    let cases = [
        ("arrival = \"bursty\"\nbase_rate = 1", 1, "needs `burst_rate`"),
        (
            "arrival = \"poisson\"\nrate = 5\ncv = 3",
            3,
            "`cv` does not apply to arrival = \"poisson\" (it belongs to gamma, weibull)",
        ),
        ("arrival = \"gamma\"\nrate = 5\ncv = 0", 3, "cv must be above 0"),
        (
            "arrival = \"diurnal\"\nrate = 5\nperiod = \"1h\"\namplitude = 2",
            4,
            "amplitude: expected 0 to 1, got 2",
        ),
        (
            "arrival = \"ramp\"\nfrom = 1\nto = 2\nover = \"soon\"",
            4,
            "over must be a duration",
        ),
        (
            "arrival = \"phases\"\n[[phases]]\narrival = \"poisson\"\nrate = 1",
            3,
            "each phase needs a `duration`",
        ),
        (
            "arrival = \"phases\"\n[[phases]]\narrival = \"poisson\"\nrate = 1\nduration = \"1s\"\nstream_share = 0.5",
            6,
            "applies to the whole [traffic] section",
        ),
        (
            "arrival = \"poisson\"\nrate = 1\nduration = \"1m\"",
            1,
            "`duration` belongs to phases",
        ),
        (
            "arrival = \"trace\"\n[trace]\nfile = \"no/such.csv\"\nformat = \"azure\"",
            2,
            "no/such.csv",
        ),
        (
            "arrival = \"closed\"\nusers = 0",
            2,
            "users: expected 1 to 100000, got 0",
        ),
        (
            "arrival = \"poisson\"\nrate = 1\n[[lanes]]\nname = \"a\"\n[[lanes]]\nname = \"a\"",
            3,
            "unique",
        ),
    ];
    for (src, line, message) in cases {
        let err = plan(src).err().unwrap_or_else(|| panic!("accepted:\n{src}"));
        let got = err.span.clone().map(|s| crate::spec_error::line_col(src, s.start).0);
        assert_eq!(got, Some(line), "{src}\n{}", err.message);
        assert!(err.message.contains(message), "{src}\n{}", err.message);
    }
}

#[test]
fn closed_loop_users_wait_think_and_stop_at_the_window() {
    let p = plan("arrival = \"closed\"\nusers = 3\nthink = { dist = \"constant\", value = \"2s\" }\nramp_up = \"3s\"\ninput_tokens = 10").unwrap();
    assert!(p.open_loop(1, Duration::from_secs(10)).is_none());
    let mut s = p.source(1, Duration::from_secs(10));
    let mut taken = Vec::new();
    while let Peek::Due(_) = s.peek() {
        taken.push(s.take().unwrap());
    }
    // Users start at 0, 1 and 2 s, then wait for their answers.
    let starts: Vec<(u32, u64)> = taken.iter().map(|r| (r.user, r.at.as_secs())).collect();
    assert_eq!(starts, [(0, 0), (1, 1), (2, 2)]);
    assert_eq!(s.peek(), Peek::Wait);
    s.ended(1, Duration::from_secs(4));
    assert_eq!(s.peek(), Peek::Due(Duration::from_secs(6)));
    let r = s.take().unwrap();
    assert_eq!((r.user, r.id), (1, 3));
    // An answer ending too late to think within the window: that user stops.
    s.ended(0, Duration::from_secs(9));
    s.ended(1, Duration::from_secs(9));
    s.ended(2, Duration::from_secs(9));
    assert_eq!(s.peek(), Peek::Done);
}

#[test]
fn a_spike_brings_extra_conversations() {
    // One new conversation a second, five a second from 10 to 20 min: a chat's lunch rush.
    let src = "arrival = \"sessions\"\nrate = 1\nturns = 1\ninput_tokens = 10\n\
               spikes = [{ at = \"10m\", length = \"10m\", factor = 5 }]";
    let p = plan(src).unwrap();
    let mut s = p.source(3, Duration::from_secs(1800));
    let mut per_window = [0u32; 3];
    while let Peek::Due(_) = s.peek() {
        let r = s.take().unwrap();
        per_window[(r.at.as_secs() / 600) as usize] += 1;
    }
    let [before, rush, after] = per_window.map(f64::from);
    // 600 expected outside the rush (Poisson: ±4σ is ±98), 3,000 inside it (±219).
    assert!(
        (before - 600.0).abs() < 100.0 && (after - 600.0).abs() < 100.0,
        "{per_window:?}"
    );
    assert!((rush - 3000.0).abs() < 220.0, "{per_window:?}");
    // Without the spike the same seed gives the same conversations as before spikes existed.
    let plain = plan("arrival = \"sessions\"\nrate = 1\nturns = 1\ninput_tokens = 10").unwrap();
    let mut a = plain.source(3, Duration::from_secs(60));
    let mut first = Vec::new();
    while let Peek::Due(_) = a.peek() {
        first.push(a.take().unwrap().at);
    }
    assert!(!first.is_empty() && first.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn sessions_start_conversations_phase_by_phase() {
    // One new conversation a second for 10 min, four a second for the next 10: a lunch rush
    // written as phases; turns = 1 so every request is a conversation.
    let src = "arrival = \"sessions\"\nturns = 1\ninput_tokens = 10\nphases = [\n\
               { duration = \"10m\", arrival = \"poisson\", rate = 1 },\n\
               { duration = \"10m\", arrival = \"poisson\", rate = 4 },\n]";
    let p = plan(src).unwrap();
    assert!((p.conversation_starts().unwrap() - 2.5).abs() < 1e-9);
    assert!((p.request_rate().unwrap() - 2.5).abs() < 1e-9);
    assert!((p.grown(2.0).request_rate().unwrap() - 5.0).abs() < 1e-9);
    let mut s = p.source(5, Duration::from_secs(1200));
    let mut per_phase = [0u32; 2];
    while let Peek::Due(_) = s.peek() {
        let r = s.take().unwrap();
        per_phase[(r.at.as_secs() / 600) as usize] += 1;
    }
    // 600 then 2,400 expected (Poisson: ±4σ is ±98 and ±196).
    assert!((f64::from(per_phase[0]) - 600.0).abs() < 100.0, "{per_phase:?}");
    assert!((f64::from(per_phase[1]) - 2400.0).abs() < 200.0, "{per_phase:?}");
    // rate and phases together are refused at the phases, and one of them is needed.
    let both = plan(&src.replace("turns = 1", "turns = 1\nrate = 2")).unwrap_err();
    assert!(both.to_string().contains("not both"), "{both}");
    let neither = plan("arrival = \"sessions\"\nturns = 1\ninput_tokens = 10").unwrap_err();
    assert!(neither.to_string().contains("`phases`"), "{neither}");
}

#[test]
fn a_short_window_of_a_day_knows_the_days_shape() {
    // A constant 1/s with a 4x hour at noon: the day holds 27 hours' worth of the first hour.
    let p = plan("arrival = \"constant\"\nrate = 1\nspikes = [{ at = \"12h\", length = \"1h\", factor = 4 }]").unwrap();
    let ratio = p.day_over_window(1, Duration::from_secs(3600)).unwrap();
    assert!((ratio - 27.0 / 24.0).abs() < 0.01, "{ratio}");
    // The first hour is the spike's: the day averages under the window.
    let noon =
        plan("arrival = \"constant\"\nrate = 1\nspikes = [{ at = \"0s\", length = \"1h\", factor = 4 }]").unwrap();
    let ratio = noon.day_over_window(1, Duration::from_secs(3600)).unwrap();
    assert!((ratio - 27.0 / 24.0 / 4.0).abs() < 0.01, "{ratio}");
    assert_eq!(p.day_over_window(1, Duration::from_secs(86_400)), None);
}

fn spec_for(kind: u8, rate: f64, cv: f64) -> String {
    match kind % 7 {
        0 => format!("arrival = \"constant\"\nrate = {rate}"),
        1 => format!("arrival = \"poisson\"\nrate = {rate}"),
        2 => format!("arrival = \"ramp\"\nfrom = {rate}\nto = {}", rate * cv),
        3 => format!(
            "arrival = \"bursty\"\nbase_rate = {rate}\nburst_rate = {}\nburst_length = \"3s\"\nburst_gap = \"20s\"",
            rate * 10.0
        ),
        4 => format!(
            "arrival = \"diurnal\"\nrate = {rate}\nperiod = \"10m\"\namplitude = {}",
            (cv / 10.0).min(1.0)
        ),
        5 => format!("arrival = \"gamma\"\nrate = {rate}\ncv = {cv}"),
        _ => format!("arrival = \"weibull\"\nrate = {rate}\ncv = {cv}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any process with any valid parameters: due times never go back, stay in the window,
    /// and the same seed gives the same requests.
    #[test]
    fn times_are_ordered_bounded_and_reproducible(kind in 0u8..7, rate in 0.5f64..200.0, cv in 0.3f64..8.0, seed in 0u64..1000) {
        let src = spec_for(kind, rate, cv);
        let window = Duration::from_secs(60);
        let a = requests(&src, seed, window);
        let b = requests(&src, seed, window);
        prop_assert_eq!(&a, &b);
        prop_assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        prop_assert!(a.iter().all(|r| r.at < window && r.input_tokens >= 1 && r.output_tokens >= 1));
    }
}

#[test]
fn grown_traffic_scales_the_rate_and_keeps_its_shape() {
    let window = Duration::from_secs(2000);
    let p = plan("arrival = \"poisson\"\nrate = 10").unwrap();
    let count = |g: f64| p.grown(g).open_loop(3, window).unwrap().count() as f64;
    // 20,000 expected at 1×; Poisson counts scatter by √n ≈ 0.7%.
    let base = count(1.0);
    assert!((base / 20_000.0 - 1.0).abs() < 0.03, "{base}");
    for g in [0.5, 1.5, 2.0, 2.5, 5.0] {
        let n = count(g);
        assert!((n / (20_000.0 * g) - 1.0).abs() < 0.03, "×{g}: {n}");
        assert!((p.grown(g).mean_rate().unwrap() - 10.0 * g).abs() < 1e-9);
    }
    // 1× is the traffic as written, request for request.
    let same: Vec<_> = p.grown(1.0).open_loop(3, window).unwrap().map(|r| r.at).collect();
    let written: Vec<_> = p.open_loop(3, window).unwrap().map(|r| r.at).collect();
    assert_eq!(same, written);
    // A grown bursty source stays bursty: independent populations superpose, each with its
    // own bursts, so the gaps' CV stays well above Poisson's 1.
    let bursty = "arrival = \"bursty\"\nbase_rate = 1\nburst_rate = 30\nburst_length = \"10s\"\nburst_gap = \"100s\"";
    let grown: Vec<PlannedRequest> = plan(bursty).unwrap().grown(2.0).open_loop(5, window).unwrap().collect();
    let (_, cv) = rate_and_cv(&grown, window);
    assert!(cv > 1.5, "{cv}");
}

#[test]
fn steady_traffic_keeps_the_mix_at_the_rate_asked_for() {
    let bursty = "arrival = \"bursty\"\nbase_rate = 4\nburst_rate = 20\nburst_length = \"10s\"\nburst_gap = \"50s\"\ninput_tokens = 500";
    let steady = plan(bursty).unwrap().steady(24.0);
    assert!((steady.mean_rate().unwrap() - 24.0).abs() < 1e-9);
    // Steady from the start: 10 s hold about 240 arrivals (Poisson, σ ≈ 15), where the bursty
    // traffic may well start between bursts.
    let window = Duration::from_secs(10);
    let r: Vec<PlannedRequest> = steady.open_loop(7, window).unwrap().collect();
    assert!((190..=290).contains(&r.len()), "{} arrivals in 10 s at 24/s", r.len());
    assert!(r.iter().all(|q| q.input_tokens == 500), "sizes kept");
}
