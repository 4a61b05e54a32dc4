//! A profile's API keys: refused at load when no client could send them, and never written out
//! except to hand the profile to a mock in another process.

use serde::Serializer;

/// Longest API key the mock reads, in bytes (Gemini's keys have 39 characters); a longer one is
/// refused as not valid, so no store keeps a key of megabytes.
pub const MAX_API_KEY_BYTES: usize = 256;

/// What a key is written as in summaries, reports and logs.
pub const REDACTED: &str = "[redacted]";

/// Serialises the keys as [`REDACTED`], one per key (the count stays visible).
pub fn redacted<S: Serializer>(keys: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(keys.iter().map(|_| REDACTED))
}

/// Every key non-empty, at most 256 bytes, printable ASCII without spaces, and not the
/// redaction marker (a profile copied from a report has lost its keys).
pub fn check(keys: &[String]) -> Result<(), String> {
    for (i, k) in keys.iter().enumerate() {
        let why = if k.is_empty() {
            "is empty"
        } else if k == REDACTED {
            "is \"[redacted]\": a profile copied from a report has its keys removed; write the real keys"
        } else if k.len() > MAX_API_KEY_BYTES {
            "is longer than 256 bytes"
        } else if k.chars().any(|c| c.is_whitespace()) {
            "holds whitespace"
        } else if k.chars().any(|c| c.is_control()) {
            "holds a control character"
        } else if !k.is_ascii() {
            "holds a non-ASCII character"
        } else {
            continue;
        };
        return Err(format!(
            "api_keys[{i}] {why}; a key is 1 to 256 printable ASCII characters without spaces"
        ));
    }
    Ok(())
}
