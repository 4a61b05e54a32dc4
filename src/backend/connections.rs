//! Connection set-up timings of the HTTP backends: DNS lookups and whole connection set-ups —
//! DNS, TCP and TLS. For reqwest (`https://`) a resolver that times itself and a layer around
//! its connector, which does not tell TCP from TLS, so the two are reported together; the lean
//! path for `http://` (`plain_http`) times its own look-ups and connects. Time to first byte is
//! per attempt (the service and time-to-first-token figures).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::time::Instant;

use crate::histogram::LatencyHistogram;

/// What the connections of one run took to set up.
#[derive(Debug, Default)]
pub struct ConnectionTimings {
    inner: Mutex<Recorded>,
}

/// The recorded timings.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// DNS lookups that succeeded (a failed one fails its connection set-up, counted below).
    pub dns: LatencyHistogram,
    /// Connection set-ups that succeeded (DNS + TCP + TLS).
    pub connect: LatencyHistogram,
    /// Set-ups that failed.
    pub connect_failed: u64,
}

impl ConnectionTimings {
    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.inner.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub(crate) fn dns(&self, took: Duration) {
        if let Ok(mut r) = self.inner.lock() {
            r.dns.record(took);
        }
    }

    pub(crate) fn connect(&self, took: Duration, ok: bool) {
        if let Ok(mut r) = self.inner.lock() {
            if ok {
                r.connect.record(took);
            } else {
                r.connect_failed += 1;
            }
        }
    }
}

/// The system resolver (`getaddrinfo` through tokio), timed.
pub struct TimedResolver(pub Arc<ConnectionTimings>);

impl Resolve for TimedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let timings = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let start = Instant::now();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            timings.dns(start.elapsed());
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A connector layer that times each connection set-up.
#[derive(Clone)]
pub struct TimedConnectLayer(pub Arc<ConnectionTimings>);

impl<S> tower_layer::Layer<S> for TimedConnectLayer {
    type Service = TimedConnect<S>;
    fn layer(&self, inner: S) -> TimedConnect<S> {
        TimedConnect {
            inner,
            timings: self.0.clone(),
        }
    }
}

/// The connector, timed.
#[derive(Clone)]
pub struct TimedConnect<S> {
    inner: S,
    timings: Arc<ConnectionTimings>,
}

impl<S, R> tower_service::Service<R> for TimedConnect<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let timings = self.timings.clone();
        let start = Instant::now();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let result = connecting.await;
            timings.connect(start.elapsed(), result.is_ok());
            result
        })
    }
}
