//! What the mock tells about itself: JSON stats, Prometheus text, and a JSONL request log.
//! None of them ever contains an API key.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::record::LineWriter;
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
    transport_metrics(&mut out, &state);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// What the transport's bounds and the request log have done, as Prometheus counters.
fn transport_metrics(out: &mut String, state: &AppState) {
    use std::sync::atomic::Ordering::Relaxed;
    let t = &state.transport.stats;
    let _ = writeln!(
        out,
        "# HELP stampede_mock_connections_open Connections open.\n# TYPE stampede_mock_connections_open gauge\nstampede_mock_connections_open {}",
        t.open.load(Relaxed)
    );
    let counters = [
        (
            "connections_refused_total",
            "Connections closed at once: every open one was busy.",
            &t.refused,
        ),
        (
            "connections_evicted_total",
            "Quiet connections closed to make room for a new one.",
            &t.evicted,
        ),
        (
            "header_timeouts_total",
            "Connections closed: a request head took longer than --header-timeout.",
            &t.header_timeouts,
        ),
        (
            "idle_timeouts_total",
            "Connections closed after --idle-timeout with no request.",
            &t.idle_timeouts,
        ),
        (
            "slow_bodies_total",
            "Bodies answered 408 below --body-rate-floor.",
            &t.slow_bodies,
        ),
        (
            "body_budget_refusals_total",
            "Bodies answered 503: --body-budget-mib was spent.",
            &t.budget_refusals,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP stampede_mock_{name} {help}\n# TYPE stampede_mock_{name} counter\nstampede_mock_{name} {}",
            value.load(Relaxed)
        );
    }
    if let Some(log) = &state.log {
        let _ = writeln!(
            out,
            "# HELP stampede_mock_request_log_failures_total Request-log lines that could not be written (rolled back).\n# TYPE stampede_mock_request_log_failures_total counter\nstampede_mock_request_log_failures_total {}",
            log.failures()
        );
    }
}

/// Appends one JSON line per decided request: time, endpoint, model, status, tokens, the
/// instant the answer is due. Keys are never written.
///
/// A line is written whole or not at all: when a write fails (a full disk), the file is cut
/// back to the end of the last whole line, the failure is counted
/// (`stampede_mock_request_log_failures_total` on `/metrics`) and said once on stderr; the mock
/// goes on answering.
#[derive(Debug)]
pub struct RequestLog {
    out: Mutex<LineWriter<File>>,
    origin: tokio::time::Instant,
}

impl RequestLog {
    /// Creates (truncates) the log file.
    pub fn create(path: &Path) -> std::io::Result<RequestLog> {
        Ok(RequestLog {
            out: Mutex::new(LineWriter::new(File::create(path)?)),
            origin: tokio::time::Instant::now(),
        })
    }

    /// Lines that could not be written so far.
    pub fn failures(&self) -> u64 {
        self.out.lock().failures
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
        if let Err(e) = out.write_line(&format!("{line}\n")) {
            if out.failures == 1 {
                eprintln!("stampede mock: the request log could not be written ({e}); lines are dropped whole and counted on /metrics (stampede_mock_request_log_failures_total)");
            }
        }
    }
}
