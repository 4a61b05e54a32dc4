//! `--metrics-addr`: the run's live metrics served over HTTP (`GET /metrics`) from a thread of
//! its own, so the run's runtime (real or virtual time) is not touched by scrapes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::CliError;
use crate::engine::Progress;
use crate::metrics::live::LiveMetrics;

/// The serving thread; stops when dropped.
pub(super) struct Exporter {
    metrics: Arc<LiveMetrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Binds `addr` now (a port in use fails before anything is sent) and serves the metrics
    /// of `scenario`'s run, shard `shard`, with gauges read from `progress`.
    pub fn start(addr: SocketAddr, scenario: &str, shard: &str, progress: Arc<Progress>) -> Result<Exporter, CliError> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| CliError::Failed(format!("--metrics-addr {addr}: {e}")))?;
        let metrics = Arc::new(LiveMetrics::new(scenario, shard));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(listener, served, progress, stopped))
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

fn serve(
    listener: std::net::TcpListener,
    metrics: Arc<LiveMetrics>,
    progress: Arc<Progress>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
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
                let body = metrics.encode(&progress);
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
