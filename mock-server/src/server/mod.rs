//! The HTTP transport: an axum app that wraps the behaviour model.
//!
//! [`app`] is a plain `Router` value (tests drive it with `oneshot` or serve it on port 0);
//! [`serve`] runs it on an already-bound listener until `shutdown` resolves. The handlers parse
//! and count, ask the model, and play the answer out at the instants the model planned.

mod batches;
mod caches;
mod gemini;
mod observe;
mod openai;
mod play;

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

pub use observe::RequestLog;

/// Options of the HTTP layer (the behaviour lives in the model's profile).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest time a `hang` fault holds a connection before closing it.
    pub hang_max: Duration,
    /// Where to append one JSON line per answered request (keys are never written).
    pub request_log: Option<PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            hang_max: Duration::from_secs(300),
            request_log: None,
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
}

/// The mock's router.
pub fn app(model: Arc<MockModel>, options: ServerOptions) -> std::io::Result<Router> {
    let log = match &options.request_log {
        Some(path) => Some(Arc::new(RequestLog::create(path)?)),
        None => None,
    };
    let state = AppState {
        model,
        options: Arc::new(options),
        log,
    };
    Ok(Router::new()
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
        .with_state(state))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish.
/// Sockets get `TCP_NODELAY`, as production API frontends set it: small answers are not held
/// back by Nagle's algorithm. HTTP/1 connections support half-closure: a client that shuts its
/// side down after a complete request still gets its answer, as from a real frontend.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().half_close(true);
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
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
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
    let router = app(model, options)?;
    let handle = tokio::spawn(async move { serve(listener, router, std::future::pending()).await });
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

/// Largest request body accepted (Gemini takes inline requests up to 20 MB; axum's default of
/// 2 MB would refuse prompts of half a million tokens).
pub const MAX_BODY: usize = 64 << 20;

/// Reads a request body up to [`MAX_BODY`]. A body declared larger (`Content-Length`) is
/// refused before a byte of it is read, with Gemini's answer for it (400 INVALID_ARGUMENT,
/// "Request payload size exceeds the limit: N bytes.", as users have reported it); so is a
/// chunked body that runs past the limit.
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::invalid_argument(format!("Request payload size exceeds the limit: {MAX_BODY} bytes."));
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let limit = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if limit {
            too_large()
        } else {
            ApiError::invalid_argument(format!("Request body could not be read: {e}"))
        }
    })
}

/// The API key of a request, from its header or its `?key=`.
pub fn request_key(request: &axum::extract::Request) -> Option<String> {
    api_key(request.headers(), request.uri().query())
}

/// A model-clock instant as a wall-clock RFC 3339 time (resource timestamps).
pub fn to_wall(t: tokio::time::Instant) -> String {
    let now = tokio::time::Instant::now();
    let wall = if t >= now {
        std::time::SystemTime::now() + (t - now)
    } else {
        std::time::SystemTime::now() - (now - t)
    };
    humantime::format_rfc3339_micros(wall).to_string()
}

/// A JSON result as a 200, or the error's Gemini body.
pub fn reply(result: Result<serde_json::Value, ApiError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, v.to_string()),
        Err(e) => error_response(&e),
    }
}

/// A numeric hint header sent by stampede (`x-stampede-output-tokens`, `x-stampede-rng-key`).
pub fn hint_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}
