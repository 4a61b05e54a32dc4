//! What stampede reads from a target: SSE framing, Gemini's answer and error bodies, and error
//! classification from status, headers and body — on any bytes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

fuzz_target!(|data: &[u8]| {
    let mut buf = String::from_utf8_lossy(data).into_owned();
    for event in stampede::backend::sse::take_events(&mut buf) {
        let _ = serde_json::from_str::<stampede_mock::wire::GenerateContentResponse>(&event);
        let _ = serde_json::from_str::<stampede_mock::errors::ErrorEnvelope>(&event);
    }
    let _ = serde_json::from_slice::<stampede_mock::wire::GenerateContentResponse>(data);
    let status = StatusCode::from_u16(400 + u16::from(data.first().copied().unwrap_or(29)) % 200)
        .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let _ = stampede::backend::error_body::classify(status, &HeaderMap::new(), data);
});
