//! stampede's recording format: one JSON line per request an application sent, as `arrival =
//! "trace"` with `format = "jsonl"` replays it, plus what the target did with it (status, time to
//! first chunk, answer time, tokens, the quota a 429 named) for `stampede calibrate`.
//!
//! One format for three writers: `stampede mock --record FILE` (what the mock decided),
//! `stampede proxy --record FILE` (what a real upstream did, measured at the proxy), and files
//! people write by hand (only `t`, `input_tokens` and `output_tokens` are required). The prompt
//! is never written, only its size in characters and salted hashes of its leading contents
//! (`prefix`: one block per content — the system instruction, each turn — so a conversation
//! resending its history, or a shared system prompt, still shares a prefix on replay), unless the
//! recorder was asked for prompts (`--record-prompts`). Headers, URLs and keys are never written.
//!
//! An application can label its requests for the recording: `x-stampede-lane: NAME` (a lane of
//! the replay) and `x-stampede-session: ID` (a conversation: its turns stay together).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tokens::TokenRule;

/// The header naming a request's lane in a recording.
pub const LANE_HEADER: &str = "x-stampede-lane";
/// The header naming a request's conversation in a recording.
pub const SESSION_HEADER: &str = "x-stampede-session";
/// The longest lane or session label kept (a longer one is not recorded).
pub const MAX_LABEL_BYTES: usize = 128;
/// The most prefix blocks written for one request: the first contents and the whole prompt.
pub const MAX_PREFIX_BLOCKS: usize = 64;

/// One line of a stampede trace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceLine {
    /// Seconds since the recording started (any origin for a hand-written trace).
    pub t: f64,
    /// Prompt tokens (as the target counted them, when it answered).
    pub input_tokens: u32,
    /// Answer tokens; 0 with a `status` other than 200: not known (replay draws the
    /// scenario's answer length).
    pub output_tokens: u32,
    /// Lane name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Prompt identity: equal keys are equal prompts (a string or a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_key: Option<serde_json::Value>,
    /// Whether the answer was streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The conversation the request belongs to (a string or a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<serde_json::Value>,
    /// The prompt's leading contents: `[key, tokens up to the content's end]`, growing; equal
    /// keys are equal text up to there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Vec<(String, u32)>>,
    /// The service tier the request asked for (`flex`, `priority`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Characters of the prompt's text (with `input_tokens`, the tokenizer's density).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<u64>,
    /// The request's `maxOutputTokens` (`max_tokens`), if it set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Which API: `gemini` or `openai`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The prompt's text parts as `[role, text]` (only with `--record-prompts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Vec<(String, String)>>,
    /// What the target answered: the HTTP status (0: no answer — the connection failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time to the answer's first chunk, in ms (streamed answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Output tokens the first chunk carried (streamed answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_chunk_tokens: Option<u64>,
    /// Time to the whole answer (or the error), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Thinking tokens the answer used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_tokens: Option<u64>,
    /// Prompt tokens served from a cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Why the answer ended (`STOP`, `MAX_TOKENS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
    /// The service tier that served it (the response's header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_tier: Option<String>,
    /// A 429's `retryDelay`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_s: Option<f64>,
    /// A 429's violated quota id (QuotaFailure `quotaId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_id: Option<String>,
    /// A 429's quota value (QuotaFailure `quotaValue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_value: Option<String>,
    /// A fault the mock or the proxy injected (`cut`, `hang`, `injected-429`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl TraceLine {
    /// Puts the prefix blocks in the target's tokens: blocks were cut at 4 characters a token
    /// (all a proxy knows before the answer); once the prompt's tokens are known, each block's
    /// end is scaled to them, so a replay's cached prefix is in the same tokens as its prompt.
    pub fn scale_prefix_to_input(&mut self) {
        let Some(blocks) = &mut self.prefix else { return };
        let Some(last) = blocks.last().map(|b| b.1).filter(|e| *e > 0) else {
            return;
        };
        let factor = f64::from(self.input_tokens) / f64::from(last);
        for b in blocks.iter_mut() {
            b.1 = (f64::from(b.1) * factor).round() as u32;
        }
        blocks.dedup_by(|b, a| b.1 <= a.1);
    }

    /// Whether the line says what the target did (a recording, not a hand-written trace).
    pub fn observed(&self) -> bool {
        self.status.is_some()
    }

    /// The answer length replay should ask for: none when the request failed before one was
    /// known.
    pub fn known_output(&self) -> Option<u32> {
        match self.status {
            Some(s) if s != 200 && self.output_tokens == 0 => None,
            _ => Some(self.output_tokens.max(1)),
        }
    }
}

/// A label header's value, if it is one worth keeping: visible text of at most
/// [`MAX_LABEL_BYTES`] bytes.
pub fn label(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    (!v.is_empty() && v.len() <= MAX_LABEL_BYTES && !v.chars().any(char::is_control)).then(|| v.to_string())
}

/// What a recording keeps of a prompt: its size, salted hashes of its leading contents, and its
/// text only when asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptShape {
    /// Characters of all its text parts.
    pub chars: u64,
    /// The whole prompt's key.
    pub prompt_key: String,
    /// `[key, tokens]` at the end of each of its first contents, and of the whole prompt.
    pub prefix: Vec<(String, u32)>,
    /// `[role, text]` of its contents (only when the recorder keeps prompts).
    pub text: Option<Vec<(String, String)>>,
}

/// Builds a [`PromptShape`] content by content.
#[derive(Debug, Clone)]
pub struct ShapeBuilder {
    hasher: Sha256,
    rule: TokenRule,
    chars: usize,
    blocks: Vec<(String, u32)>,
    text: Option<Vec<(String, String)>>,
}

impl ShapeBuilder {
    /// A new prompt; `salt` keeps the hashes of one recording from being looked up in another
    /// (a short prompt's hash could otherwise be guessed), `rule` counts block ends.
    pub fn new(salt: u64, rule: TokenRule, keep_text: bool) -> ShapeBuilder {
        let mut hasher = Sha256::new();
        hasher.update(salt.to_le_bytes());
        ShapeBuilder {
            hasher,
            rule,
            chars: 0,
            blocks: Vec::new(),
            text: keep_text.then(Vec::new),
        }
    }

    /// One content (the system instruction, a turn, a message) and its text parts.
    pub fn content<'a>(&mut self, role: Option<&str>, texts: impl IntoIterator<Item = &'a str>) {
        let role = role.unwrap_or("");
        self.hasher.update(role.as_bytes());
        self.hasher.update([0xfe]);
        let mut kept = String::new();
        for t in texts {
            self.hasher.update(t.as_bytes());
            self.hasher.update([0xff]);
            self.chars += t.chars().count();
            if self.text.is_some() {
                kept.push_str(t);
            }
        }
        if let Some(text) = &mut self.text {
            text.push((role.to_string(), kept));
        }
        let tokens = u32::try_from(self.rule.tokens_for_chars(self.chars)).unwrap_or(u32::MAX);
        let key = self.key();
        let full = self.blocks.len() >= MAX_PREFIX_BLOCKS;
        match self.blocks.last_mut() {
            // An empty content adds nothing a cache could share: it moves the last block's key.
            Some(last) if last.1 == tokens || full => *last = (key, tokens),
            _ => self.blocks.push((key, tokens)),
        }
    }

    fn key(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The shape: the last block's key is the prompt's.
    pub fn finish(self) -> PromptShape {
        PromptShape {
            chars: self.chars as u64,
            prompt_key: self.blocks.last().map_or_else(|| self.key(), |b| b.0.clone()),
            prefix: self.blocks,
            text: self.text,
        }
    }
}

/// The shape of a Gemini generate request: its system instruction, then each turn.
pub fn gemini_shape(mut b: ShapeBuilder, request: &crate::wire::GenerateContentRequest) -> PromptShape {
    for c in request.system_instruction.iter().chain(request.contents.iter()) {
        b.content(c.role.as_deref(), c.parts.iter().filter_map(|p| p.text.as_deref()));
    }
    b.finish()
}

/// The shape of an OpenAI-compatible chat request: each message (a string, or text parts).
pub fn openai_shape(mut b: ShapeBuilder, body: &serde_json::Value) -> PromptShape {
    use serde_json::Value;
    for m in body["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str();
        match &m["content"] {
            Value::String(s) => b.content(role, [s.as_str()]),
            Value::Array(parts) => b.content(role, parts.iter().filter_map(|p| p["text"].as_str())),
            _ => b.content(role, []),
        }
    }
    b.finish()
}

/// Lines held back at most while an earlier request is still out; past it the oldest request
/// still out gives up its place (its line, when it comes, is written late, out of order).
pub const MAX_HELD_LINES: usize = 100_000;

/// Writes a recording: one [`TraceLine`] per request, whole lines only (see [`LineWriter`]), in
/// the order the requests arrived (a line waits for those of earlier requests still out, so
/// `t` never goes back and the file replays as it is).
#[derive(Debug)]
pub struct Recorder {
    out: Mutex<Ordered>,
    origin: tokio::time::Instant,
    salt: u64,
    prompts: bool,
}

/// The file and the lines waiting for earlier ones.
#[derive(Debug)]
struct Ordered {
    file: LineWriter<File>,
    /// Tickets issued.
    issued: u64,
    /// The ticket whose line is written next.
    next: u64,
    /// Finished tickets after `next`: their line, or none (a request not recorded).
    held: std::collections::BTreeMap<u64, Option<String>>,
}

impl Ordered {
    fn finish(&mut self, seq: u64, text: Option<String>) {
        if seq < self.next {
            // Its place was given up: written late.
            if let Some(text) = text {
                self.write(&text);
            }
            return;
        }
        self.held.insert(seq, text);
        if self.held.len() > MAX_HELD_LINES {
            self.next = *self.held.keys().next().expect("held lines");
        }
        while let Some(text) = self.held.remove(&self.next) {
            self.next += 1;
            if let Some(text) = text {
                self.write(&text);
            }
        }
    }

    fn write(&mut self, text: &str) {
        if let Err(e) = self.file.write_line(text) {
            if self.file.failures == 1 {
                eprintln!("stampede: the recording could not be written ({e}); lines are dropped whole and counted");
            }
        }
    }
}

/// One request's place in a recording: its line is written by [`Ticket::write`]; a ticket
/// dropped unwritten (a request not recorded) frees its place.
#[derive(Debug)]
pub struct Ticket {
    recorder: std::sync::Arc<Recorder>,
    seq: u64,
    /// Seconds from the recording's start to the request's arrival.
    pub t: f64,
    done: bool,
}

impl Ticket {
    /// Writes the request's line (its `t` is the ticket's).
    pub fn write(mut self, mut line: TraceLine) {
        line.t = self.t;
        let text = format!("{}\n", serde_json::to_string(&line).expect("a trace line serialises"));
        self.done = true;
        self.recorder.out.lock().finish(self.seq, Some(text));
    }

    /// The recording (for the prompt's shape).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.recorder.out.lock().finish(self.seq, None);
        }
    }
}

impl Recorder {
    /// Creates (truncates) the file, and its folder if need be; `prompts`: keep the prompts'
    /// text (`--record-prompts`).
    pub fn create(path: &Path, prompts: bool) -> std::io::Result<Recorder> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Recorder {
            out: Mutex::new(Ordered {
                file: LineWriter::new(File::create(path)?),
                issued: 0,
                next: 0,
                held: std::collections::BTreeMap::new(),
            }),
            origin: tokio::time::Instant::now(),
            // Random per recording: std's hasher keys come from the OS.
            salt: {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new().build_hasher().finish()
            },
            prompts,
        })
    }

    /// A request arrives now: its place in the recording.
    pub fn begin(self: &std::sync::Arc<Self>) -> Ticket {
        let mut out = self.out.lock();
        let seq = out.issued;
        out.issued += 1;
        // Read under the lock, so places and times agree.
        let t = self.origin.elapsed().as_secs_f64();
        drop(out);
        Ticket {
            recorder: self.clone(),
            seq,
            t,
            done: false,
        }
    }

    /// A builder for one request's prompt shape.
    pub fn shape(&self, rule: TokenRule) -> ShapeBuilder {
        ShapeBuilder::new(self.salt, rule, self.prompts)
    }

    /// Lines that could not be written so far.
    pub fn failures(&self) -> u64 {
        self.out.lock().file.failures
    }
}

impl PromptShape {
    /// Fills a line's prompt fields.
    pub fn fill(self, line: &mut TraceLine) {
        line.chars = Some(self.chars);
        line.prompt_key = Some(serde_json::Value::String(self.prompt_key));
        line.prefix = (!self.prefix.is_empty()).then_some(self.prefix);
        line.prompt = self.text;
    }
}

/// A file that may be cut back to a length (the request log's rollback).
pub trait Truncate {
    /// Cuts the file to `len` bytes and puts the write position there.
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()>;
}

impl Truncate for File {
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
        use std::io::Seek;
        self.set_len(len)?;
        self.seek(std::io::SeekFrom::Start(len)).map(drop)
    }
}

/// Writes whole lines: a line that fails part way is rolled back to the last whole line.
#[derive(Debug)]
pub struct LineWriter<W> {
    out: W,
    /// Bytes of whole lines written.
    len: u64,
    /// Lines that failed.
    pub failures: u64,
}

impl<W: Write + Truncate> LineWriter<W> {
    /// A writer at the start of `out`.
    pub fn new(out: W) -> LineWriter<W> {
        LineWriter {
            out,
            len: 0,
            failures: 0,
        }
    }

    /// Writes `line` (ending in a newline) whole, or rolls back and counts the failure.
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        match self.out.write_all(line.as_bytes()).and_then(|()| self.out.flush()) {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.failures += 1;
                let _ = self.out.truncate_to(self.len);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk with room for `room` bytes.
    struct Disk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room.saturating_sub(self.data.len()));
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"));
            }
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Truncate for Disk {
        fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn a_line_that_does_not_fit_is_rolled_back_whole() {
        let mut w = LineWriter::new(Disk {
            data: Vec::new(),
            room: 25,
        });
        w.write_line("{\"a\": 1}\n").unwrap();
        w.write_line("{\"b\": 2}\n").unwrap();
        // 20 bytes used, 5 free: the third line is cut on disk, then rolled back.
        assert!(w.write_line("{\"c\": 3}\n").is_err());
        assert_eq!(w.failures, 1);
        assert_eq!(
            String::from_utf8(w.out.data.clone()).unwrap(),
            "{\"a\": 1}\n{\"b\": 2}\n"
        );
        // Room again: logging goes on after the last whole line.
        w.out.room = 100;
        w.write_line("{\"d\": 4}\n").unwrap();
        assert!(String::from_utf8(w.out.data.clone())
            .unwrap()
            .ends_with("2}\n{\"d\": 4}\n"));
    }

    #[test]
    fn shapes_share_a_prefix_where_the_contents_agree_and_never_keep_text_unasked() {
        let rule = TokenRule::default();
        let shape = |turns: &[&str], salt| {
            let mut b = ShapeBuilder::new(salt, rule, false);
            b.content(None, ["You are a support agent."]);
            for (i, t) in turns.iter().enumerate() {
                b.content(Some(["user", "model"][i % 2]), [*t]);
            }
            b.finish()
        };
        let one = shape(&["where is my order"], 1);
        let two = shape(&["where is my order", "it ships today", "thanks"], 1);
        assert_eq!(one.prefix.len(), 2);
        assert_eq!(two.prefix[..2], one.prefix[..]);
        assert_ne!(two.prompt_key, one.prompt_key);
        assert_eq!(one.chars, 24 + 17);
        assert_eq!(one.prefix[1].1, 11);
        assert!(one.text.is_none());
        // Another recording's salt: no key in common.
        let other = shape(&["where is my order"], 2);
        assert_ne!(other.prefix[0].0, one.prefix[0].0);
        // A long conversation keeps its first blocks and the whole prompt.
        let turns: Vec<String> = (0..200).map(|i| format!("turn {i}")).collect();
        let refs: Vec<&str> = turns.iter().map(String::as_str).collect();
        let long = shape(&refs, 1);
        assert_eq!(long.prefix.len(), MAX_PREFIX_BLOCKS);
        assert_eq!(long.prefix.last().unwrap().0, long.prompt_key);
    }

    #[test]
    fn a_recording_s_folder_is_made_and_lines_come_in_arrival_order() {
        let dir = std::env::temp_dir().join(format!("stampede-rec-{}", std::process::id()));
        let path = dir.join("a/b/rec.jsonl");
        let rec = std::sync::Arc::new(Recorder::create(&path, false).unwrap());
        let (first, second) = (rec.begin(), rec.begin());
        let line = |n| TraceLine {
            input_tokens: n,
            ..TraceLine::default()
        };
        second.write(line(2));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "",
            "the second waits for the first"
        );
        first.write(line(1));
        let third = rec.begin();
        drop(third);
        rec.begin().write(line(4));
        let text = std::fs::read_to_string(&path).unwrap();
        let tokens: Vec<u32> = text
            .lines()
            .map(|l| serde_json::from_str::<TraceLine>(l).unwrap().input_tokens)
            .collect();
        assert_eq!(tokens, [1, 2, 4]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_line_round_trips_and_unknown_answers_stay_unknown() {
        let line = TraceLine {
            t: 1.5,
            input_tokens: 10,
            output_tokens: 0,
            status: Some(429),
            quota_value: Some("60".into()),
            ..TraceLine::default()
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(!text.contains("lane"), "{text}");
        let back: TraceLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back, line);
        assert_eq!(back.known_output(), None);
        assert!(
            serde_json::from_str::<TraceLine>("{\"t\":0,\"input_tokens\":1,\"output_tokens\":1,\"oops\":1}").is_err()
        );
    }
}
