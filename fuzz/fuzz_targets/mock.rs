//! The mock's request handler (generateContent, streamGenerateContent, countTokens and the
//! OpenAI-compatible endpoint) on any request body: an answer or Gemini's error, never a panic.
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

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let uri = match data.first().copied().unwrap_or(0) % 4 {
        0 => "/v1beta/models/gemini-2.5-flash:generateContent",
        1 => "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        2 => "/v1beta/models/gemini-2.5-flash:countTokens",
        _ => "/v1beta/openai/chat/completions",
    };
    let body = data.get(1..).unwrap_or_default().to_vec();
    runtime.block_on(async {
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header("x-goog-api-key", "k")
            .header("authorization", "Bearer k")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = app().clone().oneshot(req).await.unwrap();
        let _ = resp.into_body().collect().await;
    });
});
