//! `stampede bench`: how fast the simulator runs, measured on this machine.
//!
//! Benchmarks are commands, not timed unit tests. `bench sim` runs a fixed scenario — Poisson
//! arrivals, 16 workers, an RPM quota that refuses some attempts, exponential retries with full
//! jitter — in virtual time and reports simulated requests per wall-clock second, simulated
//! seconds per wall-clock second, and the process's peak resident memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Progress;
use crate::run::{execute, Plan, RunOptions};
use crate::scenario::Scenario;
use crate::summary::Summary;

/// The benchmark scenario: `rate` requests per second for `duration`.
pub fn sim_scenario(rate: f64, duration: Duration) -> String {
    format!(
        r#"
name = "bench-sim"
seed = 1
duration = "{secs}s"

[target]
kind = "sim"
model = "gemini-2.5-flash"

[target.mock]
rpm = {rpm}
tpm = 0
rpd = 0
latency = {{ dist = "lognormal", median = "80ms", p99 = "400ms" }}

[traffic]
arrival = "poisson"
rate = {rate}
input_tokens = 500
output_tokens = 100

[strategy]
workers = 16
queue = {{ capacity = 100000 }}
timeout = {{ attempt = "5s", total = "30s" }}
retry = {{ policy = "exponential", jitter = "full", base = "100ms", cap = "2s", max_attempts = 4, honor_retry_delay = false }}
"#,
        secs = duration.as_secs(),
        // A quota of 95% of the offered rate: some attempts are refused and retried.
        rpm = ((rate * 60.0 * 0.95) as u64).max(1),
    )
}

/// What one benchmark run measured.
#[derive(Debug, Clone)]
pub struct SimBench {
    /// The run's summary.
    pub summary: Summary,
    /// Wall-clock time of the engine run.
    pub wall: Duration,
    /// Peak resident memory of the process after the run, in MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
}

impl SimBench {
    /// Scheduled requests per wall-clock second.
    pub fn requests_per_sec(&self) -> f64 {
        self.summary.requests.scheduled as f64 / self.wall.as_secs_f64()
    }

    /// Simulated seconds per wall-clock second.
    pub fn speedup(&self) -> f64 {
        self.summary.elapsed_s / self.wall.as_secs_f64()
    }
}

/// Runs the simulator benchmark.
pub fn sim(rate: f64, duration: Duration) -> SimBench {
    let text = sim_scenario(rate, duration);
    let loaded = Scenario::parse(&text, Path::new("bench-sim.toml")).expect("the benchmark scenario is valid");
    let plan = Plan::new(&loaded, &RunOptions::default());
    let started = Instant::now();
    let summary = execute(&plan, Arc::new(Progress::default()), None).expect("the simulator runs");
    SimBench {
        wall: started.elapsed(),
        summary,
        peak_rss_mib: peak_rss_mib(),
    }
}

/// Peak resident set size of this process (VmHWM), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
