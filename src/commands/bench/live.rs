//! `stampede bench live`: how fast the live load generator is on this machine, against a
//! zero-latency mock in its own process (or a server you name), so that what is measured is the
//! client: its closed-loop capacity, whether an open loop holds its schedule at a given rate,
//! the CPU it spends per request, and its memory.
//!
//! Every phase is an ordinary `stampede run` of a generated scenario (the same engine, policies,
//! records and summary as any run), so the figures are the tool's own, not a stripped-down
//! loop's. CPU time is the process's (user and system, from `getrusage`): the mock's is not in
//! it, as it is not in oha's when oha is measured beside it (see `docs/src/bench.md`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{ApiKey, HttpVersion};
use crate::commands::hosting::{spawn_mock, MockProcess};
use crate::engine::Progress;
use crate::meter;
use crate::prepare::{Prepared, RunOptions};
use crate::run::execute;
use crate::scenario::Scenario;
use crate::summary::Summary;

/// The zero-latency profile the benchmark's mock serves (also `scenarios/profiles/`).
pub const ZERO_LATENCY_PROFILE: &str = include_str!("../../../scenarios/profiles/zero-latency.toml");

/// The request oha sends beside it: about 8 prompt tokens, 8 answer tokens.
pub const OHA_BODY: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hello there, how are you today"}]}],"generationConfig":{"maxOutputTokens":8}}"#;

/// Starts `exe mock` with the zero-latency profile on a free port of 127.0.0.1, in its own
/// process (stopped when the returned handle is dropped); returns it and its base URL.
pub fn start_mock(exe: &Path) -> Result<(MockProcess, String), String> {
    let profile = std::env::temp_dir().join(format!("stampede-bench-{}.toml", std::process::id()));
    std::fs::write(&profile, ZERO_LATENCY_PROFILE).map_err(|e| format!("{}: {e}", profile.display()))?;
    // The mock has read its profile once it says where it listens.
    let started = spawn_mock(exe, &profile, 0);
    let _ = std::fs::remove_file(&profile);
    started.map_err(|e| e.to_string())
}

/// The two measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// `connections` users, each sending its next request as soon as the last is answered.
    Closed,
    /// Requests at a constant rate, whatever the answers do.
    Open,
}

/// The closed-loop scenario: `users` users with no think time, as many workers.
pub fn closed_scenario(url: &str, users: usize, duration: Duration, http: HttpVersion) -> String {
    scenario(
        url,
        duration,
        http,
        &format!("arrival = \"closed\"\nusers = {users}\nthink = {{ dist = \"constant\", value = \"0s\" }}"),
        users,
    )
}

/// The open-loop scenario: `rate` requests a second, `workers` workers, a queue that never
/// refuses (a request the workers cannot take at once waits, and its wait is measured).
pub fn open_scenario(url: &str, rate: f64, workers: usize, duration: Duration, http: HttpVersion) -> String {
    scenario(
        url,
        duration,
        http,
        &format!("arrival = \"constant\"\nrate = {rate}"),
        workers,
    )
}

fn scenario(url: &str, duration: Duration, http: HttpVersion, arrival: &str, workers: usize) -> String {
    let http = match http {
        HttpVersion::Http1 => "1.1",
        HttpVersion::Http2 => "2",
    };
    format!(
        r#"
name = "bench-live"
seed = 1
duration = "{ms}ms"

[target]
kind = "gemini"
model = "gemini-2.5-flash"
base_url = "{url}"
http = "{http}"

[traffic]
{arrival}
input_tokens = 8
output_tokens = 8

[strategy]
workers = {workers}
queue = {{ capacity = 10000000 }}
timeout = {{ attempt = "10s", total = "30s" }}
"#,
        ms = duration.as_millis(),
    )
}

/// What one phase measured.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// The run's summary.
    pub summary: Summary,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// CPU time the process spent in the run, user and system, in seconds.
    pub cpu: (f64, f64),
    /// Resident memory sampled every second of the run: (seconds in, MiB).
    pub rss: Vec<(f64, f64)>,
}

impl PhaseResult {
    /// Answers per second of the traffic window.
    pub fn answered_per_sec(&self) -> f64 {
        self.summary.requests.succeeded as f64 / self.summary.run.elapsed_s.max(1e-9)
    }

    /// CPU time per scheduled request, user and system, in microseconds.
    pub fn cpu_us_per_request(&self) -> (f64, f64) {
        let n = self.summary.requests.scheduled.max(1) as f64;
        (self.cpu.0 * 1e6 / n, self.cpu.1 * 1e6 / n)
    }

    /// The resident memory sampled nearest `at` seconds into the run.
    pub fn rss_at(&self, at: f64) -> Option<f64> {
        self.rss
            .iter()
            .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
            .map(|s| s.1)
    }
}

/// Runs one generated scenario against the target, measuring CPU time and sampling memory.
pub fn run_phase(text: &str) -> Result<PhaseResult, String> {
    let loaded = Scenario::parse(text, Path::new("bench-live.toml")).map_err(|e| e.to_string())?;
    let options = RunOptions {
        key: Some(ApiKey::new("bench")),
        ..RunOptions::default()
    };
    let plan = Prepared::new(&loaded, &options).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(b) = meter::rss_bytes() {
                    samples.push((started.elapsed().as_secs_f64(), b as f64 / (1024.0 * 1024.0)));
                }
                // Short sleeps, so the sampler ends promptly with the run.
                for _ in 0..10 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            samples
        })
    };
    let cpu_before = meter::cpu_split().unwrap_or_default();
    let started = Instant::now();
    let summary = execute(&plan, Arc::new(Progress::default()), None);
    let wall = started.elapsed();
    let cpu_after = meter::cpu_split().unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    let rss = sampler.join().unwrap_or_default();
    let summary = summary.map_err(|e| e.to_string())?;
    Ok(PhaseResult {
        summary,
        wall,
        cpu: (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1),
        rss,
    })
}

/// The oha command to run beside `stampede bench live` against the same server.
pub fn oha_command(url: &str, connections: usize, duration: Duration, http: HttpVersion) -> String {
    let http2 = if http == HttpVersion::Http2 { " --http2" } else { "" };
    format!(
        "oha -z {}s -c {connections}{http2} --no-tui -m POST -H 'x-goog-api-key: k' -H 'content-type: application/json' \
         -d '{OHA_BODY}' {}/v1beta/models/gemini-2.5-flash:generateContent",
        duration.as_secs().max(1),
        url.trim_end_matches('/'),
    )
}
