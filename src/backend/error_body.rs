//! Error responses of HTTP targets, read into an [`AttemptError`]: the status, Gemini's error
//! envelope when the body holds one (its RetryInfo delay and quota details), else the
//! `Retry-After` header. Both HTTP backends use it, so a 429 means the same from either.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use stampede_mock::errors::{ApiError, ErrorEnvelope};

use super::{AttemptError, ErrorKind};

/// Reads a `Retry-After` header given in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Classifies an error response from its status and body: Gemini's envelope, the array
/// Google's OpenAI-compatible endpoint wraps it in, or any other body (an OpenAI-style
/// `{"error": {"message", "type"}}`, HTML, nothing), which gives the status alone. A
/// `RetryInfo` delay wins over a `Retry-After` header.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> AttemptError {
    let api: Option<ApiError> = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .or_else(|_| {
            serde_json::from_slice::<Vec<ErrorEnvelope>>(body)
                .map_err(|_| ())
                .and_then(|mut v| if v.is_empty() { Err(()) } else { Ok(v.remove(0).error) })
        })
        .ok();
    let mut err = match api {
        Some(api) => AttemptError::from_api(status.as_u16(), &api),
        None => AttemptError::new(ErrorKind::Status(status.as_u16())),
    };
    if err.retry_delay.is_none() {
        err.retry_delay = retry_after(headers);
    }
    err
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn error_bodies_in_both_envelopes() {
        let h = HeaderMap::new();
        let body = br#"{"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}"#;
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &h, body);
        assert_eq!(e.kind, ErrorKind::Status(429));
        assert_eq!(e.retry_delay, Some(Duration::from_secs(7)));
        let arr = br#"[{"error": {"code": 503, "message": "m", "status": "UNAVAILABLE"}}]"#;
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, arr).kind,
            ErrorKind::Status(503)
        );
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &h, b"not json");
        assert_eq!(e.retry_delay, Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_absurd_retry_after_is_ignored() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("1e300"));
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS, &h, b"").retry_delay, None);
    }
}
