//! Playing a [`Generation`] out over HTTP at the instants the model planned.
//!
//! Unary answers are sent whole when the answer is due. Streams send their headers with the
//! first chunk and each chunk when it is due. Serving faults become broken HTTP: a body that
//! errors (the connection is cut), a body cut in half, invalid JSON, or nothing at all.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tokio::time::sleep;

use crate::model::{wait_until, Generation, ServingFault};
use crate::tokens::synth_text;

/// Renders one chunk: (generation, chunk index, text delta, is last) → JSON.
pub type ChunkRenderer = Arc<dyn Fn(&Generation, u32, &str, bool) -> String + Send + Sync>;

/// How chunks are framed on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    /// Content type of the response.
    pub content_type: &'static str,
    /// Written before the first chunk.
    pub open: &'static str,
    /// Written before each chunk.
    pub before: &'static str,
    /// Written between chunks.
    pub separator: &'static str,
    /// Written after each chunk.
    pub after: &'static str,
    /// Written after the last chunk of a complete answer.
    pub close: &'static str,
}

/// Gemini `alt=sse`: `data: {json}` lines separated by a blank line, no end marker.
pub const GEMINI_SSE: Framing = Framing {
    content_type: "text/event-stream",
    open: "",
    before: "data: ",
    separator: "",
    after: "\r\n\r\n",
    close: "",
};

/// Gemini `streamGenerateContent` without `alt=sse`: one JSON array, sent chunk by chunk.
pub const GEMINI_ARRAY: Framing = Framing {
    content_type: "application/json; charset=UTF-8",
    open: "[",
    before: "",
    separator: ",\r\n",
    after: "",
    close: "]",
};

/// OpenAI-compatible streaming: `data: {json}` events, then `data: [DONE]`.
pub const OPENAI_SSE: Framing = Framing {
    content_type: "text/event-stream",
    open: "",
    before: "data: ",
    separator: "",
    after: "\n\n",
    close: "data: [DONE]\n\n",
};

fn aborted() -> Response {
    let body = stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "stampede mock: connection reset (injected fault)",
        ))
    });
    (StatusCode::OK, Body::from_stream(body)).into_response()
}

async fn hang(max: Duration) -> Response {
    sleep(max).await;
    aborted()
}

fn ok_body(content_type: &'static str, body: impl Into<Body>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// Sends the whole answer when it is due. `render` gets the full text.
pub async fn unary(
    generation: Generation,
    hang_max: Duration,
    render: impl FnOnce(&Generation, &str) -> String,
) -> Response {
    match generation.fault {
        Some(ServingFault::Hang) => return hang(hang_max).await,
        Some(ServingFault::Reset) => {
            wait_until(generation.reset_at()).await;
            return aborted();
        }
        _ => {}
    }
    wait_until(generation.done_at()).await;
    let text = synth_text(generation.usage.candidates, generation.text_key);
    let json = render(&generation, &text);
    match generation.fault {
        Some(ServingFault::Malformed) => ok_body("application/json; charset=UTF-8", json[..json.len() / 2].to_string()),
        Some(ServingFault::Truncate) => {
            let half = Bytes::from(json[..json.len() / 2].to_string());
            let body = stream::iter([
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "truncated (injected fault)",
                )),
            ]);
            ok_body("application/json; charset=UTF-8", Body::from_stream(body))
        }
        _ => ok_body("application/json; charset=UTF-8", json),
    }
}

struct StreamState {
    generation: Generation,
    text: String,
    framing: Framing,
    render: ChunkRenderer,
    next: u32,
    finished: bool,
}

/// Streams the answer chunk by chunk; headers go out with the first chunk.
pub async fn streamed(generation: Generation, hang_max: Duration, framing: Framing, render: ChunkRenderer) -> Response {
    match generation.fault {
        Some(ServingFault::Hang) => return hang(hang_max).await,
        Some(ServingFault::Reset) => {
            wait_until(generation.reset_at()).await;
            return aborted();
        }
        _ => {}
    }
    wait_until(generation.first_chunk_at()).await;
    let text = synth_text(generation.usage.candidates, generation.text_key);
    let state = StreamState {
        generation,
        text,
        framing,
        render,
        next: 0,
        finished: false,
    };
    let body = stream::unfold(state, |mut s| async move {
        if s.finished {
            return None;
        }
        let g = &s.generation;
        let i = s.next;
        let count = g.chunk_count();
        if g.fault == Some(ServingFault::Truncate) && i >= g.truncated_chunks().max(1) {
            s.finished = true;
            let err = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "stream truncated (injected fault)");
            return Some((Err(err), s));
        }
        wait_until(g.chunk_at(i)).await;
        let from = if i == 0 { 0 } else { g.tokens_after(i - 1) } as usize * 4;
        let to = g.tokens_after(i) as usize * 4;
        let last = i + 1 == count;
        let mut out = String::new();
        if i == 0 {
            out.push_str(s.framing.open);
        } else {
            out.push_str(s.framing.separator);
        }
        out.push_str(s.framing.before);
        let json = (s.render)(g, i, &s.text[from..to], last);
        if g.fault == Some(ServingFault::Malformed) {
            out.push_str(&json[..json.len() / 2]);
            out.push_str(s.framing.after);
            s.finished = true;
            return Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), s));
        }
        out.push_str(&json);
        out.push_str(s.framing.after);
        if last {
            out.push_str(s.framing.close);
            s.finished = true;
        }
        s.next += 1;
        Some((Ok(Bytes::from(out)), s))
    })
    .boxed();
    ok_body(framing.content_type, Body::from_stream(body))
}
