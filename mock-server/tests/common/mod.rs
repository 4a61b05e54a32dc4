//! Helpers of the HTTP tests: a router over a profile, one call through it, its reply.
#![allow(dead_code)]

pub use std::sync::Arc;
pub use std::time::Duration;

pub use axum::body::Body;
pub use axum::http::{HeaderMap, Request, StatusCode};
pub use axum::Router;
pub use http_body_util::BodyExt;
pub use serde_json::{json, Value};
pub use stampede_mock::server::{app, ServerOptions};
pub use stampede_mock::{MockModel, MockProfile, MockSettings};
pub use tokio::time::Instant;
pub use tower::ServiceExt;

pub fn profile(settings: &str) -> MockProfile {
    let s: MockSettings = toml::from_str(settings).unwrap();
    MockProfile::preset("tier1").unwrap().patched(&s).unwrap()
}

pub fn router(settings: &str) -> Router {
    router_with(settings, ServerOptions::default())
}

pub fn router_with(settings: &str, options: ServerOptions) -> Router {
    app(Arc::new(MockModel::new(profile(settings), 1)), options).unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Result<String, String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.body.as_ref().expect("complete body")).expect("JSON body")
    }
}

pub async fn call(app: &Router, method: &str, uri: &str, key: Option<&str>, body: &str) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("x-goog-api-key", k);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.into_body().collect().await {
        Ok(b) => Ok(String::from_utf8_lossy(&b.to_bytes()).into_owned()),
        Err(e) => Err(e.to_string()),
    };
    Reply { status, headers, body }
}

pub const GEN: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
pub const HELLO: &str =
    r#"{"contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}]}"#;

pub fn quiet() -> &'static str {
    "latency = { dist = \"constant\", value = \"100ms\" }\noutput_tokens = 40"
}
