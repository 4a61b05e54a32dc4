//! The mock's request parsing on any input: the endpoint, its query (page sizes and tokens),
//! the hint headers and the body are all taken from the fuzzer's bytes, across generate,
//! countTokens, the OpenAI-compatible endpoint, cachedContents and batches. Every request gets
//! an answer or Gemini's error — never a panic, and never an answer built from an unbounded
//! number.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        let settings: stampede_mock::MockSettings =
            toml::from_str("latency = { dist = \"constant\", value = \"0s\" }\noutput_tokens = 8")
                .expect("valid settings");
        let profile = stampede_mock::MockProfile::preset("tier1")
            .and_then(|p| p.patched(&settings))
            .expect("a valid profile");
        stampede_mock::server::app(Arc::new(stampede_mock::MockModel::new(profile, 1)), Default::default())
            .expect("an app")
    })
}

/// (method, path) by the first byte.
const ROUTES: [(&str, &str); 9] = [
    ("POST", "/v1beta/models/gemini-2.5-flash:generateContent"),
    ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    ("POST", "/v1beta/models/gemini-2.5-flash:countTokens"),
    ("POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent"),
    ("POST", "/v1beta/openai/chat/completions"),
    ("POST", "/v1beta/cachedContents"),
    ("GET", "/v1beta/cachedContents"),
    ("GET", "/v1beta/batches"),
    ("PATCH", "/v1beta/cachedContents/mock000000000001"),
];

/// Splits `data` at the first `sep` (the rest is empty when there is none).
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (method, path) = ROUTES[usize::from(pick) % ROUTES.len()];
    // Then: a query, a hint header value, and the body, separated by newlines.
    let (query, rest) = split(rest, b'\n');
    let (hint, body) = split(rest, b'\n');
    let query: String = String::from_utf8_lossy(query)
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '#')
        .collect();
    let uri = match (query.is_empty(), path.contains('?')) {
        (true, _) => path.to_string(),
        (false, true) => format!("{path}&{query}"),
        (false, false) => format!("{path}?{query}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut req = Request::builder()
            .method(method)
            .uri(uri.as_str())
            .header("x-goog-api-key", "k")
            .header("content-type", "application/json");
        if let Ok(v) = axum::http::HeaderValue::from_bytes(hint) {
            req = req.header("x-stampede-output-tokens", v);
        }
        let Ok(req) = req.body(Body::from(body.to_vec())) else { return };
        let resp = app().clone().oneshot(req).await.unwrap();
        assert!(resp.status().as_u16() < 500 || resp.status().as_u16() == 503, "{}", resp.status());
        let _ = resp.into_body().collect().await;
    });
});
