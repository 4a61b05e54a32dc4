//! `--metrics-addr`: the run's live metrics served over HTTP (`GET /metrics`) from a thread of
//! its own, so the run's runtime (real or virtual time) is not touched by scrapes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::CliError;
use crate::metrics::live::LiveMetrics;

/// `--metrics-addr` and `--metrics-linger` (on `run` and `compare`).
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Serve live Prometheus metrics at http://HOST:PORT/metrics while the runs go.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// Keep serving --metrics-addr this long after the runs, so a last scrape sees the final
    /// counts (at most 1h).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_linger)]
    pub metrics_linger: Duration,
}

fn parse_linger(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (expected a duration such as 5s)"))?;
    if d > Duration::from_secs(3_600) {
        return Err("at most 1h".into());
    }
    Ok(d)
}

impl LiveArgs {
    /// The exporter, when `--metrics-addr` was given.
    pub(super) fn start(&self, scenario: &str, shard: &str) -> Result<Option<Exporter>, CliError> {
        self.metrics_addr
            .map(|addr| Exporter::start(addr, scenario, shard))
            .transpose()
    }
}

/// The serving thread; stops when dropped.
pub(super) struct Exporter {
    metrics: Arc<LiveMetrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Binds `addr` now (a port in use fails before anything is sent) and serves the metrics
    /// of `scenario`'s runs, shard `shard` (or `all`).
    pub fn start(addr: SocketAddr, scenario: &str, shard: &str) -> Result<Exporter, CliError> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| CliError::Failed(format!("--metrics-addr {addr}: {e}")))?;
        let metrics = Arc::new(LiveMetrics::new(scenario, shard));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(listener, served, stopped))
            .map_err(|e| CliError::Failed(format!("--metrics-addr: {e}")))?;
        Ok(Exporter {
            metrics,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The metrics the run updates.
    pub fn metrics(&self) -> Arc<LiveMetrics> {
        self.metrics.clone()
    }

    /// Keeps serving for `linger`, then stops.
    pub fn linger(self, linger: Duration) {
        std::thread::sleep(linger);
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: std::net::TcpListener, metrics: Arc<LiveMetrics>, stopped: tokio::sync::oneshot::Receiver<()>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = metrics.encode();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        );
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
}
