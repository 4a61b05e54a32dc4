//! What the mock tells about itself: JSON stats, Prometheus text, and a JSONL request log.
//! None of them ever contains an API key.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;

use super::{json_response, AppState};
use crate::model::Answer;

/// `GET /__stampede/stats`.
pub async fn stats(State(state): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_string(&state.model.stats()).expect("stats serialise"),
    )
}

/// A label value escaped as the Prometheus text format asks: backslash, double quote and line
/// feed, so no value can end its label or start a line of its own.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `GET /metrics` in Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let s = state.model.stats();
    let mut out = String::new();
    out.push_str("# HELP stampede_mock_requests_total Answers by model and HTTP status.\n# TYPE stampede_mock_requests_total counter\n");
    for (model, by_status) in &s.requests {
        for (status, n) in by_status {
            let _ = writeln!(
                out,
                "stampede_mock_requests_total{{model=\"{}\",code=\"{status}\"}} {n}",
                label(model)
            );
        }
    }
    out.push_str("# HELP stampede_mock_inflight Answers being served.\n# TYPE stampede_mock_inflight gauge\n");
    let _ = writeln!(out, "stampede_mock_inflight {}", s.inflight);
    out.push_str("# HELP stampede_mock_upstream_busy Requests holding an upstream place.\n# TYPE stampede_mock_upstream_busy gauge\n");
    let _ = writeln!(out, "stampede_mock_upstream_busy {}", s.upstream_busy);
    out.push_str("# HELP stampede_mock_upstream_waiting Requests waiting for an upstream place.\n# TYPE stampede_mock_upstream_waiting gauge\n");
    let _ = writeln!(out, "stampede_mock_upstream_waiting {}", s.upstream_waiting);
    out.push_str(
        "# HELP stampede_mock_quota_used Quota used in the current window.\n# TYPE stampede_mock_quota_used gauge\n",
    );
    for q in &s.quota {
        let _ = writeln!(
            out,
            "stampede_mock_quota_used{{project=\"{}\",model=\"{}\",dimension=\"{}\"}} {}",
            q.key_index,
            label(&q.model),
            label(&q.dimension),
            q.used
        );
    }
    out.push_str(
        "# HELP stampede_mock_quota_limit Quota limit (0 = unlimited).\n# TYPE stampede_mock_quota_limit gauge\n",
    );
    for q in &s.quota {
        let _ = writeln!(
            out,
            "stampede_mock_quota_limit{{project=\"{}\",model=\"{}\",dimension=\"{}\"}} {}",
            q.key_index,
            label(&q.model),
            label(&q.dimension),
            q.limit
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// Appends one JSON line per decided request: time, endpoint, model, status, tokens, the
/// instant the answer is due. Keys are never written.
#[derive(Debug)]
pub struct RequestLog {
    out: Mutex<BufWriter<File>>,
    origin: tokio::time::Instant,
}

impl RequestLog {
    /// Creates (truncates) the log file.
    pub fn create(path: &Path) -> std::io::Result<RequestLog> {
        Ok(RequestLog {
            out: Mutex::new(BufWriter::new(File::create(path)?)),
            origin: tokio::time::Instant::now(),
        })
    }

    /// Logs one answer.
    pub fn record(&self, answer: &Answer, model: &str, endpoint: &str) {
        let now = tokio::time::Instant::now();
        let t = now.saturating_duration_since(self.origin).as_secs_f64();
        let line = match answer {
            Answer::Error(e) => {
                json!({"t_s": t, "endpoint": endpoint, "model": model, "status": e.status()})
            }
            Answer::Serve(g) => json!({
                "t_s": t, "endpoint": endpoint, "model": model, "status": 200,
                "input_tokens": g.usage.prompt, "output_tokens": g.usage.candidates,
                "thinking_tokens": g.usage.thoughts,
                "due_in_ms": g.done_at().saturating_duration_since(now).as_secs_f64() * 1e3,
                "fault": g.fault.map(|f| format!("{f:?}").to_lowercase()),
            }),
        };
        let mut out = self.out.lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
