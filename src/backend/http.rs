//! What the HTTP backends share: the client, sending an attempt (the mock's hints, error
//! statuses classified from Gemini's bodies), and reading a body or a stream's chunks with
//! failures classified the same way.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::time::Instant;

use super::connections::ConnectionTimings;
use super::error_body;
use super::plain_http::{PlainPool, PlainReply};
use super::HttpVersion;
use super::{Attempt, AttemptError, AttemptResult, ErrorKind, ServiceTier};

/// The HTTP client of the HTTP backends: rustls, `pool` idle connections kept per host, no
/// Nagle delay; DNS lookups and connection set-ups timed into `timings`.
fn http_client(
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

/// How an HTTP backend sends its attempts: the lean path (hyper's connections) for plain
/// `http://` targets, reqwest with rustls for the rest.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// Plain HTTP to the mock or a local server.
    Plain(Arc<PlainPool>),
    /// Everything else, from this base URL (no trailing slash).
    Reqwest(reqwest::Client, Arc<str>),
}

impl Transport {
    /// The lean path when `base_url` is `http://`, else reqwest; and the reqwest client either
    /// way (for the requests that are not attempts). Keeps `pool` connections per host.
    pub(crate) fn new(
        base_url: &str,
        pool: usize,
        version: HttpVersion,
        timings: Option<Arc<ConnectionTimings>>,
    ) -> anyhow::Result<(reqwest::Client, Transport)> {
        let client = http_client(pool, timings.clone())?;
        let transport = match PlainPool::for_url(base_url, pool, version, timings) {
            Some(p) => Transport::Plain(p),
            None => Transport::Reqwest(client.clone(), Arc::from(base_url.trim_end_matches('/'))),
        };
        Ok((client, transport))
    }

    /// POSTs the JSON `body` to the base URL plus `path` with `headers`; a failed exchange is
    /// the attempt's `transport` failure, marked `connect` when no connection could be made.
    async fn post(&self, path: &str, headers: HeaderMap, body: Bytes) -> Result<Reply, AttemptResult> {
        let failed = |connect: bool| {
            AttemptResult::failed(if connect {
                AttemptError::connect_failed()
            } else {
                AttemptError::new(ErrorKind::Transport)
            })
        };
        match self {
            Transport::Plain(pool) => pool
                .post(path, headers, body)
                .await
                .map(Reply::Plain)
                .map_err(|e| failed(e == super::plain_http::PostError::Connect)),
            Transport::Reqwest(client, base) => client
                .post(format!("{base}{path}"))
                .headers(headers)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map(Reply::Reqwest)
                .map_err(|e| failed(e.is_connect())),
        }
    }
}

/// An answer's status, headers and body, whichever way it came.
pub(crate) enum Reply {
    /// From the lean path.
    Plain(PlainReply),
    /// From reqwest.
    Reqwest(reqwest::Response),
}

impl Reply {
    fn status(&self) -> StatusCode {
        match self {
            Reply::Plain(r) => r.status(),
            Reply::Reqwest(r) => r.status(),
        }
    }

    fn headers(&self) -> &HeaderMap {
        match self {
            Reply::Plain(r) => r.headers(),
            Reply::Reqwest(r) => r.headers(),
        }
    }

    /// The next piece of the body, `None` at its end.
    async fn chunk(&mut self) -> Result<Option<Bytes>, ()> {
        match self {
            Reply::Plain(r) => r.chunk().await,
            Reply::Reqwest(r) => r.chunk().await.map_err(|_| ()),
        }
    }

    /// The whole body.
    async fn bytes(self) -> Result<Bytes, ()> {
        match self {
            Reply::Plain(r) => r.bytes().await,
            Reply::Reqwest(r) => r.bytes().await.map_err(|_| ()),
        }
    }
}

/// One attempt's exchange: POSTs `body` to `path` with `headers` (and the mock's hints when
/// `hints`), then reads the answer as a stream with `stream`, or whole with `unary` (given the
/// body and when it arrived).
pub(crate) async fn exchange<F>(
    transport: &Transport,
    (path, mut headers, body): (&str, HeaderMap, Bytes),
    attempt: &Attempt,
    hints: bool,
    stream: impl FnOnce(Reply) -> F,
    unary: impl FnOnce(&[u8], Instant) -> AttemptResult,
) -> AttemptResult
where
    F: std::future::Future<Output = AttemptResult>,
{
    if hints {
        headers.insert("x-stampede-output-tokens", HeaderValue::from(attempt.output_tokens));
        headers.insert("x-stampede-rng-key", HeaderValue::from(attempt.rng_key));
    }
    let resp = match transport.post(path, headers, body).await {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    let status = resp.status();
    if !status.is_success() {
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap_or_default();
        return AttemptResult::failed(error_body::classify(status, &headers, &body));
    }
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
        match resp.bytes().await {
            Ok(bytes) => unary(&bytes, Instant::now()),
            Err(()) => AttemptResult::failed(AttemptError::new(ErrorKind::Transport)),
        }
    };
    if let Ok(tokens) = &mut result.outcome {
        tokens.service_tier = tier;
    }
    result
}

/// The response header naming the service tier that served a request.
const SERVICE_TIER_HEADER: &str = "x-gemini-service-tier";

/// The next piece of a streamed body (`None` at its end). A connection lost before any chunk
/// is `transport`, after some it is a cut `stream`.
pub(crate) async fn next_piece(resp: &mut Reply, chunks_so_far: u32) -> Result<Option<Bytes>, AttemptResult> {
    resp.chunk().await.map_err(|()| {
        let kind = if chunks_so_far == 0 {
            ErrorKind::Transport
        } else {
            ErrorKind::Stream
        };
        AttemptResult::failed(AttemptError::new(kind))
    })
}
