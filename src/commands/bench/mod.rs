//! `stampede bench`: how fast stampede runs, measured on this machine.
//!
//! Benchmarks are commands, not timed unit tests. `bench sim` runs a fixed scenario — Poisson
//! arrivals, 16 workers, an RPM quota that refuses some attempts, exponential retries with full
//! jitter — in virtual time and reports simulated requests per wall-clock second, simulated
//! seconds per wall-clock second, and the process's peak resident memory. `bench mock` compares
//! the mock's HTTP throughput with a bare axum hello-world. `bench live` ([`live`]) measures the
//! live load generator against a zero-latency mock in its own process.

pub mod live;
pub mod proxy;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Progress;
use crate::prepare::{Prepared, RunOptions};
use crate::run::execute;
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
        self.summary.run.elapsed_s / self.wall.as_secs_f64()
    }
}

/// Runs the simulator benchmark.
pub fn sim(rate: f64, duration: Duration) -> SimBench {
    let text = sim_scenario(rate, duration);
    let loaded = Scenario::parse(&text, Path::new("bench-sim.toml")).expect("the benchmark scenario is valid");
    let plan = Prepared::new(&loaded, &RunOptions::default()).expect("the simulator's scenario is valid");
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

/// One HTTP throughput measurement.
#[derive(Debug, Clone, Copy)]
pub struct HttpRate {
    /// Completed requests.
    pub requests: u64,
    /// Responses that were not 200.
    pub failures: u64,
    /// Requests per second.
    pub per_sec: f64,
}

/// Closed-loop load: `connections` tasks each POST `body` to `url` back to back for `duration`.
pub async fn http_rate(url: &str, body: &'static str, connections: usize, duration: Duration) -> HttpRate {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()
        .expect("client builds");
    let started = tokio::time::Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let url = url.to_string();
            tokio::spawn(async move {
                let (mut n, mut bad) = (0u64, 0u64);
                while tokio::time::Instant::now() < deadline {
                    let resp = client
                        .post(&url)
                        .header("x-goog-api-key", "bench")
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match resp {
                        Ok(r) => {
                            bad += u64::from(r.status() != reqwest::StatusCode::OK);
                            let _ = r.bytes().await;
                        }
                        Err(_) => bad += 1,
                    }
                    n += 1;
                }
                (n, bad)
            })
        })
        .collect();
    let (mut requests, mut failures) = (0, 0);
    for t in tasks {
        let (n, bad) = t.await.expect("load task");
        requests += n;
        failures += bad;
    }
    HttpRate {
        requests,
        failures,
        per_sec: requests as f64 / started.elapsed().as_secs_f64(),
    }
}

/// The request both servers get: a small generateContent body.
pub const BENCH_BODY: &str =
    r#"{"contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}]}"#;

/// Serves a bare axum hello-world on 127.0.0.1:0 (the baseline of `bench mock`).
pub async fn hello_world() -> std::io::Result<std::net::SocketAddr> {
    async fn hello() -> &'static str {
        "Hello, World!"
    }
    let app = axum::Router::new().fallback(hello);
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    // Served exactly as the mock is (same TCP_NODELAY), so only the handler differs.
    tokio::spawn(stampede_mock::server::serve(listener, app, std::future::pending()));
    Ok(addr)
}

/// Serves the mock with zero latency, no quotas, 16-token answers on 127.0.0.1:0.
pub async fn zero_latency_mock() -> std::io::Result<std::net::SocketAddr> {
    let settings: stampede_mock::MockSettings =
        toml::from_str("latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 16")
            .expect("valid settings");
    let profile = stampede_mock::MockProfile::preset("unlimited")
        .and_then(|p| p.patched(&settings))
        .expect("valid profile");
    let model = Arc::new(stampede_mock::MockModel::new(profile, 0));
    let (addr, _) = stampede_mock::server::spawn(
        model,
        stampede_mock::server::ServerOptions::default(),
        std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
    )
    .await?;
    Ok(addr)
}

/// One paired round of `stampede bench mock`: the same load generator against a bare axum
/// hello-world and against the zero-latency mock, one after the other.
#[derive(Debug, Clone, Copy)]
pub struct MockRound {
    /// The hello-world's rate.
    pub hello: HttpRate,
    /// The mock's rate.
    pub mock: HttpRate,
}

/// `stampede bench mock`: starts both servers on 127.0.0.1, warms both up, then runs `rounds`
/// paired measurements, alternating which server goes first so drift on the machine hits both
/// alike. `each` hears of every round as it ends.
pub async fn mock_vs_hello_world(
    connections: usize,
    duration: Duration,
    rounds: usize,
    each: &mut dyn FnMut(usize, &MockRound),
) -> std::io::Result<Vec<MockRound>> {
    let hello = hello_world().await?;
    let mock = zero_latency_mock().await?;
    let hello_url = format!("http://{hello}/v1beta/models/gemini-2.5-flash:generateContent");
    let mock_url = format!("http://{mock}/v1beta/models/gemini-2.5-flash:generateContent");
    let warm = Duration::from_millis(500);
    http_rate(&hello_url, BENCH_BODY, connections, warm).await;
    http_rate(&mock_url, BENCH_BODY, connections, warm).await;
    let mut all = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let (hello, mock) = if round % 2 == 1 {
            let h = http_rate(&hello_url, BENCH_BODY, connections, duration).await;
            (h, http_rate(&mock_url, BENCH_BODY, connections, duration).await)
        } else {
            let m = http_rate(&mock_url, BENCH_BODY, connections, duration).await;
            (http_rate(&hello_url, BENCH_BODY, connections, duration).await, m)
        };
        let r = MockRound { hello, mock };
        each(round, &r);
        all.push(r);
    }
    Ok(all)
}

/// The median of `values` (NaN when there are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
