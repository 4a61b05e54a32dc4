//! The HTTP transport: an axum app that wraps the behaviour model.
//!
//! [`app`] is a plain `Router` value (tests drive it with `oneshot` or serve it on port 0);
//! [`serve`] runs it on an already-bound listener until `shutdown` resolves. The handlers parse
//! and count, ask the model, and play the answer out at the instants the model planned.

mod batch_view;
mod batches;
mod body;
mod caches;
mod connections;
mod gemini;
mod observe;
mod openai;
mod play;
mod recording;
mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::errors::ApiError;
use crate::model::MockModel;

pub use body::{read_body, ReadBody};
pub use connections::Closed;
pub use observe::RequestLog;
pub use transport::{Transport, TransportLimits, TransportStats, DEFAULT_MAX_BODY};

/// Options of the HTTP layer (the behaviour lives in the model's profile).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest time a `hang` fault holds a connection before closing it.
    pub hang_max: Duration,
    /// Where to append one JSON line per answered request (keys are never written).
    pub request_log: Option<PathBuf>,
    /// Where to record each generate request as a line of stampede's trace format.
    pub record: Option<PathBuf>,
    /// Keep the prompts' text in the recording.
    pub record_prompts: bool,
    /// The transport's bounds: connections, timeouts, body size, budget and pace.
    pub limits: TransportLimits,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            hang_max: Duration::from_secs(300),
            request_log: None,
            record: None,
            record_prompts: false,
            limits: TransportLimits::default(),
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The behaviour model.
    pub model: Arc<MockModel>,
    /// HTTP options.
    pub options: Arc<ServerOptions>,
    /// The request log, if enabled.
    pub log: Option<Arc<RequestLog>>,
    /// The recording, if enabled.
    pub recorder: Option<Arc<crate::record::Recorder>>,
    /// The transport's limits, counters and body budget.
    pub transport: Arc<Transport>,
    /// Batch creates parsed at once: a create of 100,000 inline requests builds tens of MB
    /// while it is parsed, so they take turns.
    pub batch_creates: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Reads a request body within the transport's bounds (see [`read_body`]).
    pub async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<ReadBody, ApiError> {
        read_body(&self.transport, headers, body).await
    }
}

/// The mock's router and the transport it is meant to be served with (same limits and
/// counters; see [`serve_with`]).
#[derive(Debug, Clone)]
pub struct Mock {
    /// The router.
    pub router: Router,
    /// Its transport.
    pub transport: Arc<Transport>,
}

/// The mock's router.
pub fn app(model: Arc<MockModel>, options: ServerOptions) -> std::io::Result<Router> {
    Ok(build(model, options)?.router)
}

/// The mock's router with its transport.
pub fn build(model: Arc<MockModel>, options: ServerOptions) -> std::io::Result<Mock> {
    let log = match &options.request_log {
        Some(path) => Some(Arc::new(RequestLog::create(path)?)),
        None => None,
    };
    let recorder = match &options.record {
        Some(path) => Some(Arc::new(crate::record::Recorder::create(path, options.record_prompts)?)),
        None => None,
    };
    let transport = Transport::new(options.limits.clone());
    let state = AppState {
        model,
        options: Arc::new(options),
        log,
        recorder,
        transport: transport.clone(),
        batch_creates: Arc::new(tokio::sync::Semaphore::new(2)),
    };
    let router = Router::new()
        .route("/{version}/models", get(gemini::list_models))
        .route(
            "/{version}/models/{target}",
            get(gemini::get_model).post(gemini::model_method),
        )
        .route("/{version}/batches", get(batches::list))
        .route(
            "/{version}/batches/{target}",
            get(batches::get).post(batches::cancel).delete(batches::delete),
        )
        .route("/{version}/cachedContents", get(caches::list).post(caches::create))
        .route(
            "/{version}/cachedContents/{id}",
            get(caches::get).patch(caches::update).delete(caches::delete),
        )
        .route("/{version}/openai/chat/completions", post(openai::chat_completions))
        .route("/__stampede/stats", get(observe::stats))
        .route("/metrics", get(observe::metrics))
        .fallback(not_found)
        .with_state(state);
    Ok(Mock { router, transport })
}

/// Serves `app` on `listener` with the default transport limits until `shutdown` completes
/// (see [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, Transport::new(TransportLimits::default()), shutdown).await
}

/// Serves `app` on `listener` within `transport`'s limits until `shutdown` completes, then lets
/// open connections finish. Sockets get `TCP_NODELAY`, as production API frontends set it:
/// small answers are not held back by Nagle's algorithm. HTTP/1 connections support
/// half-closure: a client that shuts its side down after a complete request still gets its
/// answer, as from a real frontend. Connections are bounded in number and in how long they may
/// take over a request head or stay quiet (see [`connections`](self::connections)).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    transport: Arc<Transport>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioExecutor;
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // A request head of at most 64 KiB (hyper answers 431 past it); HTTP/2 keeps its streams
    // and windows small, so no connection buffers much that no handler has read.
    builder.http1().half_close(true).max_buf_size(64 << 10);
    builder
        .http2()
        .max_concurrent_streams(128)
        .max_header_list_size(64 << 10)
        .initial_connection_window_size(1 << 20)
        .initial_stream_window_size(256 << 10);
    let builder = Arc::new(builder);
    let table = Arc::new(connections::Connections::new(transport));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of file descriptors or a connection reset before accept: wait a little.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Every open connection busy with a request: this one is closed at once.
        let Some(conn) = table.admit() else { continue };
        let _ = tcp.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(connections::Watched::new(tcp, conn.clone()));
        let service = connections::tracked(app.clone(), conn.clone());
        let served = builder.serve_connection_with_upgrades(io, service).into_owned();
        let served = graceful.watch(served);
        let table = table.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = served => {}
                _ = table.watchdog(&conn) => {}
            }
            table.remove(&conn);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Binds `addr` and serves the model there in a background task; returns the bound address.
/// Used by stampede's `mock` target and by tests (bind port 0).
pub async fn spawn(
    model: Arc<MockModel>,
    options: ServerOptions,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let mock = build(model, options)?;
    let handle =
        tokio::spawn(async move { serve_with(listener, mock.router, mock.transport, std::future::pending()).await });
    Ok((local, handle))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error_response(&ApiError::no_such_path(uri.path()))
}

/// A Gemini error response: JSON with charset, no Retry-After.
pub fn error_response(error: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        error.body().to_string(),
    )
}

/// A JSON response as Gemini sends it.
pub fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        Body::from(body),
    )
        .into_response()
}

/// The API key from `x-goog-api-key`, `Authorization: Bearer` or `?key=`.
pub fn api_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<String> {
    if let Some(k) = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.to_string());
    }
    if let Some(k) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(k.to_string());
    }
    query.and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "key")
            .map(|(_, v)| v.to_string())
    })
}

/// The API key of a request, from its header or its `?key=`.
pub fn request_key(request: &axum::extract::Request) -> Option<String> {
    api_key(request.headers(), request.uri().query())
}

/// A model-clock instant as a wall-clock RFC 3339 time (resource timestamps).
/// Never panics: a time RFC 3339 cannot write (before 1970 or after 9999, where humantime's
/// formatter fails) is written as the nearest one it can.
pub fn to_wall(t: tokio::time::Instant) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    const LAST: Duration = Duration::from_secs(253_402_300_799);
    let now = tokio::time::Instant::now();
    let wall_now = SystemTime::now();
    let wall = if t >= now {
        wall_now.checked_add(t - now)
    } else {
        wall_now.checked_sub(now - t)
    };
    let since_epoch = wall
        .and_then(|w| w.duration_since(UNIX_EPOCH).ok())
        .unwrap_or(if t >= now { LAST } else { Duration::ZERO })
        .min(LAST);
    humantime::format_rfc3339_micros(UNIX_EPOCH + since_epoch).to_string()
}

/// `pageSize` and `pageToken` of a list request: the size within bounds (`default` when
/// absent) and the name to continue after (`prefix` + the token), or the 400 naming the bad one.
pub fn page_query(query: Option<&str>, default: usize, prefix: &str) -> Result<(usize, Option<String>), ApiError> {
    let param = |name: &str| {
        query.and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    };
    let size = crate::bounds::page_size(param("pageSize"), default)?;
    let after = match param("pageToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) if t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(format!("{prefix}{t}")),
        Some(_) => {
            return Err(ApiError::invalid_argument(
                "Invalid value at 'page_token': not a token this list gave.",
            ))
        }
    };
    Ok((size, after))
}

/// A JSON result as a 200, or the error's Gemini body.
pub fn reply(result: Result<serde_json::Value, ApiError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, v.to_string()),
        Err(e) => error_response(&e),
    }
}

/// A numeric hint header sent by stampede (`x-stampede-rng-key`); anything but a whole number
/// is ignored.
pub fn hint_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// The answer length stampede asks for (`x-stampede-output-tokens`): absent, or a whole number
/// (past `u32::MAX` it is taken as `u32::MAX`, and the model refuses it as past the model's
/// output limit, with the range); anything else is a 400 naming the header.
pub fn output_hint(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    const NAME: &str = "x-stampede-output-tokens";
    let Some(raw) = headers.get(NAME) else { return Ok(None) };
    let text = raw.to_str().unwrap_or("");
    match text.trim().parse::<u64>() {
        Ok(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
        Err(_) => Err(ApiError::invalid_argument(format!(
            "Invalid value at '{NAME}' ({:?}): must be a whole number of tokens.",
            text.chars().take(40).collect::<String>()
        ))),
    }
}
