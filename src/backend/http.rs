//! What the HTTP backends share: the client, sending an attempt (the mock's hints, error
//! statuses classified from Gemini's bodies), and reading a body or a stream's chunks with
//! failures classified the same way.

use bytes::Bytes;
use reqwest::RequestBuilder;
use tokio::time::Instant;

use super::error_body;
use super::{Attempt, AttemptError, AttemptResult, ErrorKind, ServiceTier};

/// The HTTP client of the HTTP backends: rustls, `pool` idle connections kept per host, no
/// Nagle delay; DNS lookups and connection set-ups timed into `timings`.
pub(crate) fn http_client(
    pool: usize,
    timings: Option<std::sync::Arc<super::connections::ConnectionTimings>>,
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(pool.max(1))
        .tcp_nodelay(true)
        .user_agent(concat!("stampede/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timings {
        builder = builder
            .dns_resolver(std::sync::Arc::new(super::connections::TimedResolver(t.clone())))
            .connector_layer(super::connections::TimedConnectLayer(t));
    }
    Ok(builder.build()?)
}

/// One attempt's exchange: sends `req`, then reads the answer as a stream with `stream`, or
/// whole with `unary` (given the body and when it arrived).
pub(crate) async fn exchange<F>(
    req: RequestBuilder,
    attempt: &Attempt,
    hints: bool,
    stream: impl FnOnce(reqwest::Response) -> F,
    unary: impl FnOnce(&[u8], Instant) -> AttemptResult,
) -> AttemptResult
where
    F: std::future::Future<Output = AttemptResult>,
{
    let resp = match send(req, attempt, hints).await {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    // The tier that served the answer: the header when the server sends it (Priority over its
    // limit says `standard`), else the tier asked for.
    let tier = resp
        .headers()
        .get(SERVICE_TIER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(ServiceTier::parse)
        .unwrap_or(attempt.service_tier);
    let mut result = if attempt.stream {
        stream(resp).await
    } else {
        match body(resp).await {
            Ok((bytes, arrived)) => unary(&bytes, arrived),
            Err(failed) => failed,
        }
    };
    if let Ok(tokens) = &mut result.outcome {
        tokens.service_tier = tier;
    }
    result
}

/// The response header naming the service tier that served a request.
const SERVICE_TIER_HEADER: &str = "x-gemini-service-tier";

/// Sends `req` (with the `x-stampede-*` hints when `hints`); an error status or a failed
/// connection comes back as the attempt's failure.
async fn send(mut req: RequestBuilder, attempt: &Attempt, hints: bool) -> Result<reqwest::Response, AttemptResult> {
    if hints {
        req = req
            .header("x-stampede-output-tokens", attempt.output_tokens)
            .header("x-stampede-rng-key", attempt.rng_key);
    }
    let resp = req
        .send()
        .await
        .map_err(|_| AttemptResult::failed(AttemptError::new(ErrorKind::Transport)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    Err(AttemptResult::failed(error_body::classify(status, &headers, &body)))
}

/// The whole body of a unary answer and when it arrived.
async fn body(resp: reqwest::Response) -> Result<(Bytes, Instant), AttemptResult> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| AttemptResult::failed(AttemptError::new(ErrorKind::Transport)))?;
    Ok((bytes, Instant::now()))
}

/// The next piece of a streamed body (`None` at its end). A connection lost before any chunk
/// is `transport`, after some it is a cut `stream`.
pub(crate) async fn next_piece(
    resp: &mut reqwest::Response,
    chunks_so_far: u32,
) -> Result<Option<Bytes>, AttemptResult> {
    resp.chunk().await.map_err(|_| {
        let kind = if chunks_so_far == 0 {
            ErrorKind::Transport
        } else {
            ErrorKind::Stream
        };
        AttemptResult::failed(AttemptError::new(kind))
    })
}
