//! Reading a trace file row by row: the file opened through `input_file` (a regular file, lines
//! of at most [`MAX_LINE_BYTES`]), each format's row parsed into a [`TraceRow`], and a line past
//! the limit reported as [`Row::Unreadable`] at its line, after which nothing more is read.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use stampede_mock::input_file::{self, LineLimited, LineTooLong, MAX_LINE_BYTES};
use stampede_mock::rng::combine;

use super::prefix::{mooncake_prefix, Prefix};
use super::{Row, TraceFormat, TraceRow};
use crate::spec_error::shown;
use stampede_mock::record::TraceLine;

#[derive(Deserialize, schemars::JsonSchema)]
struct MooncakeLine {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

/// A recording's prefix blocks: hex keys read as they were written (another string is hashed).
fn recorded_prefix(blocks: Option<&[(String, u32)]>) -> Option<Prefix> {
    let blocks = blocks.filter(|b| !b.is_empty())?;
    let mut out: Vec<(u64, u32)> = Vec::with_capacity(blocks.len());
    for (key, end) in blocks {
        let key = u64::from_str_radix(key, 16).unwrap_or_else(|_| hash_str(key));
        // Blocks grow; one that does not is dropped rather than trusted.
        if out.last().is_none_or(|&(_, e)| *end > e) {
            out.push((key, *end));
        }
    }
    Some(Prefix::from(out))
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The file as read: regular, and in lines of at most [`MAX_LINE_BYTES`].
type Limited = BufReader<LineLimited<File>>;

enum Source {
    Csv(Box<csv::Reader<Limited>>, csv::StringRecord),
    Lines(Lines<Limited>, u64),
    /// After an unreadable row: nothing more is read.
    Done,
}

/// Rows of a trace file, read one at a time.
pub struct TraceRows {
    path: PathBuf,
    format: TraceFormat,
    include_failed: bool,
    source: Source,
}

impl TraceRows {
    /// Opens a trace; checks a CSV's header.
    pub fn open(path: &Path, format: TraceFormat, include_failed: bool) -> Result<TraceRows, String> {
        let csv = matches!(format, TraceFormat::Azure | TraceFormat::Burstgpt);
        let reader = BufReader::new(input_file::open_lines(path, csv).map_err(|e| e.to_string())?);
        let source = match format {
            TraceFormat::Azure | TraceFormat::Burstgpt => {
                let mut csv = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(reader);
                let header = csv
                    .headers()
                    .map_err(|e| format!("{}:1: {}", path.display(), unreadable(&e)))?
                    .clone();
                let expected: &[&str] = if format == TraceFormat::Azure {
                    &["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
                } else {
                    &["Timestamp", "Model", "Request tokens", "Response tokens"]
                };
                for (i, name) in expected.iter().enumerate() {
                    if header.get(i).map(str::trim) != Some(*name) {
                        return Err(format!(
                            "{}:1: expected the {format:?} header {}, found {:?}",
                            path.display(),
                            expected.join(","),
                            header.iter().collect::<Vec<_>>().join(",")
                        ));
                    }
                }
                Source::Csv(Box::new(csv), csv::StringRecord::new())
            }
            TraceFormat::Mooncake | TraceFormat::Jsonl => Source::Lines(reader.lines(), 0),
        };
        Ok(TraceRows {
            path: path.to_path_buf(),
            format,
            include_failed,
            source,
        })
    }

    /// The next row with its line number, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<(u64, Row)> {
        let next = self.read_row();
        if let Some((_, Row::Unreadable(_))) = next {
            self.source = Source::Done;
        }
        next
    }

    fn read_row(&mut self) -> Option<(u64, Row)> {
        match &mut self.source {
            Source::Done => None,
            Source::Csv(reader, record) => match reader.read_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    Some((line, parse_csv(self.format, record, self.include_failed)))
                }
                Err(e) => {
                    let long = match e.kind() {
                        csv::ErrorKind::Io(io) => Some(LineTooLong::of(io)),
                        _ => None,
                    };
                    match long {
                        Some(Some(l)) => Some((l.line, Row::Unreadable(unreadable(&e)))),
                        Some(None) => Some((e.position().map_or(0, |p| p.line()), Row::Unreadable(e.to_string()))),
                        None => Some((e.position().map_or(0, |p| p.line()), Row::Bad(e.to_string()))),
                    }
                }
            },
            Source::Lines(lines, number) => loop {
                let text = match lines.next()? {
                    Ok(t) => t,
                    Err(e) => return Some((*number + 1, Row::Unreadable(unreadable(&e)))),
                };
                *number += 1;
                if text.trim().is_empty() {
                    continue;
                }
                return Some((*number, parse_json_line(self.format, &text)));
            },
        }
    }

    /// `file:line: message`.
    pub fn locate(&self, line: u64, message: &str) -> String {
        format!("{}:{line}: {message}", self.path.display())
    }
}

/// An error that ends the reading of a trace, said for people: a line past the limit says so.
fn unreadable(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let io = s
            .downcast_ref::<std::io::Error>()
            .or_else(|| match s.downcast_ref::<csv::Error>()?.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            });
        if let Some(io) = io {
            if LineTooLong::of(io).is_some() {
                return format!(
                    "a row longer than {}; a trace row is at most that long (is this a trace?)",
                    input_file::Bytes(MAX_LINE_BYTES as u64)
                );
            }
        }
        source = s.source();
    }
    e.to_string()
}

fn field<T: std::str::FromStr>(r: &csv::StringRecord, i: usize, name: &str) -> Result<T, String> {
    let v = r.get(i).ok_or_else(|| format!("missing column {name}"))?.trim();
    v.parse()
        .map_err(|_| format!("{name} \"{}\" is not a valid number", shown(v)))
}

fn parse_csv(format: TraceFormat, r: &csv::StringRecord, include_failed: bool) -> Row {
    let parsed = match format {
        TraceFormat::Azure => (|| {
            let stamp = r.get(0).ok_or("missing TIMESTAMP")?.trim();
            let time = humantime::parse_rfc3339_weak(stamp)
                .map_err(|e| format!("TIMESTAMP \"{}\" is not a timestamp ({e})", shown(stamp)))?;
            let t = time
                .duration_since(UNIX_EPOCH)
                .map_err(|_| "TIMESTAMP before 1970")?
                .as_secs_f64();
            Ok::<_, String>(TraceRow {
                t,
                input: field(r, 1, "ContextTokens")?,
                output: Some(field(r, 2, "GeneratedTokens")?),
                lane: None,
                model: None,
                prompt_key: None,
                stream: None,
                prefix: None,
                session: None,
            })
        })(),
        _ => (|| {
            let row = TraceRow {
                t: field(r, 0, "Timestamp")?,
                input: field(r, 2, "Request tokens")?,
                output: Some(field(r, 3, "Response tokens")?),
                lane: None,
                model: r.get(1).map(|m| m.trim().to_string()),
                prompt_key: None,
                stream: None,
                prefix: None,
                session: None,
            };
            Ok::<_, String>(row)
        })(),
    };
    match parsed {
        Err(e) => Row::Bad(e),
        Ok(row) if format == TraceFormat::Burstgpt && row.output == Some(0) && !include_failed => Row::Failed,
        Ok(mut row) => {
            row.output = row.output.map(|o| o.max(1));
            Row::Ok(row)
        }
    }
}

fn parse_json_line(format: TraceFormat, text: &str) -> Row {
    // A file saved by an editor may start with a byte-order mark, as a CSV trace may.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if format == TraceFormat::Mooncake {
        return match serde_json::from_str::<MooncakeLine>(text) {
            Ok(m) => Row::Ok(TraceRow {
                t: m.timestamp / 1000.0,
                input: m.input_length,
                output: Some(m.output_length.max(1)),
                lane: None,
                model: None,
                prompt_key: (!m.hash_ids.is_empty()).then(|| m.hash_ids.iter().fold(0, |h, id| combine(h, *id))),
                stream: None,
                prefix: mooncake_prefix(&m.hash_ids, m.input_length),
                session: None,
            }),
            Err(e) => Row::Bad(format!("not a Mooncake row: {}", shown(&e.to_string()))),
        };
    }
    match serde_json::from_str::<TraceLine>(text) {
        Ok(l) => Row::Ok(TraceRow {
            t: l.t,
            input: l.input_tokens,
            output: l.known_output(),
            lane: l.lane,
            model: l.model,
            prompt_key: l.prompt_key.map(|k| match k {
                // A recording's key: read as written, as its prefix blocks are.
                serde_json::Value::String(s) if s.len() == 16 => {
                    u64::from_str_radix(&s, 16).unwrap_or_else(|_| hash_str(&s))
                }
                serde_json::Value::String(s) => hash_str(&s),
                other => hash_str(&other.to_string()),
            }),
            stream: l.stream,
            prefix: recorded_prefix(l.prefix.as_deref()),
            session: l.session.map(|k| match k {
                serde_json::Value::String(s) => hash_str(&s),
                other => hash_str(&other.to_string()),
            }),
        }),
        Err(e) => Row::Bad(format!(
            "expected {{\"t\", \"input_tokens\", \"output_tokens\", ...}}: {}",
            shown(&e.to_string())
        )),
    }
}
