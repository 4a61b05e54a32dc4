//! The HTTP transport: an axum app that wraps the behaviour model.
//!
//! [`app`] is a plain `Router` value (tests drive it with `oneshot` or serve it on port 0);
//! [`serve`] runs it on an already-bound listener until `shutdown` resolves. The handlers parse
//! and count, ask the model, and play the answer out at the instants the model planned.

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
use axum::serve::ListenerExt;
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
        .route("/{version}/openai/chat/completions", post(openai::chat_completions))
        .route("/__stampede/stats", get(observe::stats))
        .route("/metrics", get(observe::metrics))
        .fallback(not_found)
        .with_state(state))
}

/// Serves `app` on `listener` until `shutdown` completes. Sockets get `TCP_NODELAY`, as
/// production API frontends set it: small answers are not held back by Nagle's algorithm.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
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

/// Reads a request body up to [`MAX_BODY`].
pub async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::invalid_argument(format!("Request body could not be read: {e}")))
}

/// A numeric hint header sent by stampede (`x-stampede-output-tokens`, `x-stampede-rng-key`).
pub fn hint_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}
