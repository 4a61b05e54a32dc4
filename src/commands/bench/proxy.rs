//! `stampede bench proxy`: what `stampede proxy` adds to an unloaded call. One client sends
//! calls one at a time to a zero-latency mock, alternately direct and through a recording
//! proxy in front of it (both in this process), and the latency of each path is kept in an
//! HDR histogram; the proxy's cost is the difference at each percentile.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::{zero_latency_mock, BENCH_BODY};
use crate::commands::proxy::{self, Injection, ProxyOptions};

/// Latency percentiles of one path, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathLatency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Both paths measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyBench {
    /// Calls per path.
    pub calls: usize,
    /// Straight to the mock.
    pub direct: PathLatency,
    /// Through the recording proxy.
    pub proxied: PathLatency,
}

fn path_latency(h: &Histogram<u64>) -> PathLatency {
    let ms = |us: u64| us as f64 / 1e3;
    PathLatency {
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    }
}

/// Measures `calls` calls on each path (alternating, after 50 warm-up calls each); the
/// recording goes to `record`.
pub async fn proxy_overhead(calls: usize, record: &std::path::Path) -> anyhow::Result<ProxyBench> {
    let mock = zero_latency_mock().await?;
    let router = proxy::router(ProxyOptions {
        upstream: format!("http://{mock}"),
        record: Some(record.to_path_buf()),
        record_prompts: false,
        inject: Injection::default(),
        seed: 0,
        max_body: 20 << 20,
    })?;
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let proxied = listener.local_addr()?;
    tokio::spawn(stampede_mock::server::serve(listener, router, std::future::pending()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let url = |addr: std::net::SocketAddr| format!("http://{addr}/v1beta/models/gemini-3.8-flash:generateContent");
    let (direct_url, proxied_url) = (url(mock), url(proxied));
    let mut hist = [Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?];
    for i in 0..(calls + 50) * 2 {
        let (path, target) = if i % 2 == 0 {
            (0, &direct_url)
        } else {
            (1, &proxied_url)
        };
        let start = tokio::time::Instant::now();
        let response = client
            .post(target)
            .header("x-goog-api-key", "bench-key")
            .header("content-type", "application/json")
            .body(BENCH_BODY)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the mock answered {}",
            response.status()
        );
        response.bytes().await?;
        if i >= 100 {
            hist[path].record(start.elapsed().as_micros() as u64)?;
        }
    }
    Ok(ProxyBench {
        calls,
        direct: path_latency(&hist[0]),
        proxied: path_latency(&hist[1]),
    })
}
