//! Bounds on every number and string a request can carry that sizes what the mock builds or
//! keeps: past them a request gets Gemini's 400 INVALID_ARGUMENT naming the field and its
//! valid range, before anything is allocated for it.
//!
//! Without them one request could make the mock build a 17 GB answer (an output-length hint of
//! 4,294,967,295 tokens) or keep a 60 MB `displayName` per cache. The model checks the numbers
//! of a generate call (so the simulator and the HTTP mock refuse the same calls); the transport
//! checks what only it parses (headers, `candidateCount`, `n`, page sizes).

use std::fmt::Display;

use crate::errors::ApiError;

/// Highest `candidateCount` (Gemini documents 1 to 8).
pub const MAX_CANDIDATE_COUNT: i64 = 8;
/// Lowest `thinkingBudget`: -1 lets the model decide.
pub const MIN_THINKING_BUDGET: i64 = -1;
/// Highest `thinkingBudget` (Gemini 2.5 Pro's ceiling, the largest of any model).
pub const MAX_THINKING_BUDGET: i64 = 32_768;
/// Largest page of a list (Gemini coerces larger `pageSize` values to 1,000; the mock refuses
/// them so a client learns its page is smaller than it asked).
pub const MAX_PAGE_SIZE: usize = 1000;
/// Longest `displayName` of a cache or a batch job, in characters (Gemini documents 128 for
/// cached contents).
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;
pub use crate::profile::MAX_API_KEY_BYTES;
/// Longest `ttl` (or `expireTime` ahead of now) of a cache: 30 days.
pub const MAX_CACHE_TTL_SECS: u64 = 30 * 24 * 3600;

/// Most JSON objects and arrays one request body may hold (a real request has a few per turn).
/// Parsed, each costs tens of bytes, so 20 MiB of `{},` would otherwise build 240 MB.
pub const MAX_JSON_NODES: usize = 200_000;
/// The same for a batch create, whose inline requests are read one at a time.
pub const MAX_BATCH_JSON_NODES: usize = 2_000_000;

/// Counts the objects and arrays of a JSON body (outside strings) and refuses it past `max`,
/// before it is parsed.
pub fn json_nodes(body: &[u8], max: usize) -> Result<(), ApiError> {
    let (mut nodes, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => nodes += 1,
                _ => {}
            }
        }
        if nodes > max {
            return Err(ApiError::invalid_argument(format!(
                "Invalid JSON payload received. The stampede mock reads at most {max} objects and arrays in one request."
            )));
        }
    }
    Ok(())
}

/// 400 INVALID_ARGUMENT for `field` = `value` outside `lo..=hi`.
/// A value too long to repeat is cut at 40 characters.
pub fn out_of_range(field: &str, value: impl Display, lo: impl Display, hi: impl Display) -> ApiError {
    let mut shown = value.to_string();
    if let Some((cut, _)) = shown.char_indices().nth(40) {
        shown.truncate(cut);
        shown.push('…');
    }
    ApiError::invalid_argument(format!(
        "Invalid value at '{field}' ({shown}): must be between {lo} and {hi}."
    ))
}

/// `value` when it lies in `lo..=hi`, else the 400 naming `field`.
pub fn in_range<T: PartialOrd + Display + Copy>(field: &str, value: T, lo: T, hi: T) -> Result<T, ApiError> {
    if value < lo || value > hi {
        Err(out_of_range(field, value, lo, hi))
    } else {
        Ok(value)
    }
}

/// A `displayName` of at most [`MAX_DISPLAY_NAME_CHARS`] characters, else the 400 naming it
/// (with its length, never the value).
pub fn display_name(name: &str) -> Result<&str, ApiError> {
    let chars = name.chars().count();
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(ApiError::invalid_argument(format!(
            "Invalid value at 'display_name' ({chars} characters): must be between 0 and {MAX_DISPLAY_NAME_CHARS} characters."
        )));
    }
    Ok(name)
}

/// A `pageSize` query value: absent gives `default`; otherwise 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(raw: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match raw {
        None | Some("") | Some("0") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) => in_range("page_size", n, 1, MAX_PAGE_SIZE),
            Err(_) => Err(out_of_range("page_size", v, 1, MAX_PAGE_SIZE)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_field_and_the_bounds() {
        let e = in_range("max_output_tokens", 70_000u32, 1, 65_536).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(e.status, "INVALID_ARGUMENT");
        assert_eq!(
            e.message,
            "Invalid value at 'max_output_tokens' (70000): must be between 1 and 65536."
        );
        assert_eq!(in_range("x", 5, 1, 8).unwrap(), 5);
        assert!(display_name(&"é".repeat(128)).is_ok());
        let e = display_name(&"a".repeat(60_000_000)).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
        assert_eq!(page_size(None, 50).unwrap(), 50);
        assert_eq!(page_size(Some("1000"), 50).unwrap(), 1000);
        assert!(page_size(Some("1001"), 50).is_err());
        assert!(page_size(Some("-3"), 50).is_err());
        assert!(json_nodes(br#"{"a": [{"text": "{{{[[[\"{{"}]}"#, 3).is_ok());
        assert!(json_nodes(b"[{},{},{}]", 3).is_err());
    }
}
