//! Reading a request body within the transport's bounds: its size (Gemini's 400 past the
//! limit), its share of the body budget all connections draw from (503 when it is spent), and
//! its pace (408 when it arrives slower than the rate floor over a window).
//!
//! The bytes a body holds stay counted against the budget until the handler drops the
//! [`ReadBody`], so many slow or stalled bodies cannot together hold more than the budget.

use std::ops::Deref;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{timeout_at, Instant};

use super::transport::{Transport, TransportStats};
use crate::errors::ApiError;

/// A body read whole, holding its share of the body budget until dropped.
#[derive(Debug)]
pub struct ReadBody {
    bytes: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Deref for ReadBody {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::invalid_argument(format!("Request payload size exceeds the limit: {limit} bytes."))
}

fn over_budget(t: &Transport) -> ApiError {
    TransportStats::bump(&t.stats.budget_refusals);
    ApiError::unavailable(format!(
        "The stampede mock is holding {} MiB of request bodies, its budget (--body-budget-mib); retry shortly.",
        t.limits.body_budget >> 20
    ))
}

fn too_slow(t: &Transport) -> ApiError {
    TransportStats::bump(&t.stats.slow_bodies);
    ApiError::request_timeout(format!(
        "The request body arrived slower than {} bytes/s over {:?} (--body-rate-floor, --body-rate-window).",
        t.limits.body_rate_floor, t.limits.body_rate_window
    ))
}

/// Takes `n` more bytes of the budget into `held`; false when the budget has no room.
fn take(t: &Transport, held: &mut Option<OwnedSemaphorePermit>, n: usize) -> bool {
    if n == 0 {
        return true;
    }
    let Ok(n) = u32::try_from(n) else { return false };
    match Arc::clone(&t.body_budget).try_acquire_many_owned(n) {
        Ok(p) => {
            match held {
                Some(h) => h.merge(p),
                None => *held = Some(p),
            }
            true
        }
        Err(_) => false,
    }
}

/// Reads `body` within `t`'s bounds. A body declared larger than the limit
/// (`Content-Length`) is refused before a byte of it is read, with Gemini's answer for it (400
/// INVALID_ARGUMENT, "Request payload size exceeds the limit: N bytes."), and so is one that
/// runs past the limit; a declared body takes its whole size from the budget up front, a
/// chunked one as it arrives.
pub async fn read_body(t: &Transport, headers: &HeaderMap, body: Body) -> Result<ReadBody, ApiError> {
    let max = t.limits.max_body;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let declared = declared.map_or(0, |n| n as usize);
    let mut permit = None;
    let mut held = declared;
    if !take(t, &mut permit, declared) {
        return Err(over_budget(t));
    }
    let mut buf = BytesMut::with_capacity(declared);
    let mut body = body;
    let need = t.limits.bytes_per_window();
    let mut window_end = Instant::now() + t.limits.body_rate_window;
    let mut in_window = 0u64;
    loop {
        let frame = match timeout_at(window_end, body.frame()).await {
            Err(_) => return Err(too_slow(t)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(ApiError::invalid_argument(format!(
                    "Request body could not be read: {e}"
                )))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        let len = buf.len() + data.len();
        if len > max {
            return Err(too_large(max));
        }
        if len > held {
            if !take(t, &mut permit, len - held) {
                return Err(over_budget(t));
            }
            held = len;
        }
        buf.extend_from_slice(&data);
        in_window += data.len() as u64;
        if in_window >= need {
            in_window = 0;
            window_end = Instant::now() + t.limits.body_rate_window;
        }
    }
    Ok(ReadBody {
        bytes: buf.freeze(),
        _permit: permit,
    })
}
