//! Errors in input files that point at the offending text.
//!
//! Type and range errors are caught by the TOML parser, which knows where they are. Checks that
//! span several keys (a process that needs a `rate`) run after parsing and carry the byte range
//! of the key they blame, so the message can still name the line and column.

use std::ops::Range;

/// A problem with one part of an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// Byte range of the offending text, when known.
    pub span: Option<Range<usize>>,
    /// What was wrong and what was expected.
    pub message: String,
    /// A key inside `span` the error is about: the message points at its line when the table
    /// at `span` writes it (`model` inside `[target]`).
    pub key: Option<&'static str>,
}

impl SpecError {
    /// An error blaming the text at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> SpecError {
        SpecError {
            span: Some(span),
            message: message.into(),
            key: None,
        }
    }

    /// An error about `key` of the table at `span`: it points at the key's line when the table
    /// writes it, else at the table.
    pub fn at_key(span: Range<usize>, key: &'static str, message: impl Into<String>) -> SpecError {
        SpecError {
            key: Some(key),
            ..SpecError::at(span, message)
        }
    }

    /// An error about the file as a whole.
    pub fn whole(message: impl Into<String>) -> SpecError {
        SpecError {
            span: None,
            message: message.into(),
            key: None,
        }
    }
}

/// The byte range of `key` where the table at `span` writes it (`key = ...` at a line's start,
/// before the next table's header; the span may cover only the table's own header).
fn key_in(text: &str, span: &Range<usize>, key: &str) -> Option<Range<usize>> {
    let table = text.get(span.start..)?;
    let mut offset = span.start;
    for (i, line) in table.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            return None;
        }
        let at_key = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if at_key {
            let indent = line.len() - trimmed.len();
            return Some(offset + indent..offset + indent + key.len());
        }
        offset += line.len();
    }
    None
}

/// The closest of `known` to `wrong`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(wrong, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// A parser's "unknown field `x`, expected one of `a`, `b`" with the likely intended key added.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((wrong, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let known = expected.split('`').skip(1).step_by(2);
    match did_you_mean(wrong, known) {
        Some(k) => format!("unknown field `{wrong}` (did you mean `{k}`?){expected}"),
        None => message.to_string(),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The most characters of the offending line an error shows, around the column.
const SHOWN_LINE: usize = 120;
/// The longest message repeated as the parser wrote it (it may quote the value).
const SHOWN_MESSAGE: usize = 400;

/// Formats an error as `path:line:column: message`, with the offending line shown (a window
/// of it around the column when the line is long, so a huge line never floods the terminal).
pub fn render(path: &str, text: &str, err: &SpecError) -> String {
    let msg = if err.message.chars().count() > SHOWN_MESSAGE {
        let cut: String = err.message.chars().take(SHOWN_MESSAGE).collect();
        format!("{cut}… ({} characters)", err.message.chars().count())
    } else {
        err.message.clone()
    };
    let narrowed = match (&err.span, err.key) {
        (Some(span), Some(key)) => key_in(text, span, key).or(Some(span.clone())),
        (span, _) => span.clone(),
    };
    match &narrowed {
        None => format!("{path}: {msg}"),
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            let source = text.lines().nth(line - 1).unwrap_or("");
            let width = text
                .get(span.clone())
                .and_then(|t| t.lines().next())
                .map_or(1, |l| l.chars().count().max(1));
            let (shown, at) = window(source, col - 1);
            format!(
                "{path}:{line}:{col}: {msg}\n{line:>5} | {shown}\n      | {pad}{marks}",
                pad = " ".repeat(at),
                marks = "^".repeat(width.min(shown.chars().count().saturating_sub(at).max(1)))
            )
        }
    }
}

/// At most [`SHOWN_LINE`] characters of `line` around character `col` (0-based), control
/// characters replaced, and where `col` falls in what is shown.
fn window(line: &str, col: usize) -> (String, usize) {
    let total = line.chars().count();
    let clean = |c: char| if c.is_control() && c != '\t' { '·' } else { c };
    if total <= SHOWN_LINE {
        return (line.chars().map(clean).collect(), col);
    }
    let start = col.saturating_sub(SHOWN_LINE / 2).min(total - SHOWN_LINE);
    let mut shown: String = line.chars().skip(start).take(SHOWN_LINE).map(clean).collect();
    let mut at = col - start;
    if start > 0 {
        shown.insert(0, '…');
        at += 1;
    }
    if start + SHOWN_LINE < total {
        shown.push('…');
    }
    (shown, at)
}

/// Converts a TOML parser error, keeping its position.
pub fn from_toml(err: &toml::de::Error) -> SpecError {
    SpecError {
        span: err.span(),
        message: with_suggestion(err.message().trim()),
        key: None,
    }
}

/// The longest piece of a user's value an error message repeats, in characters.
pub const SHOWN_CHARS: usize = 80;

/// `value` as an error message repeats it: control characters escaped, and cut at
/// [`SHOWN_CHARS`] with the full length said, so a 10 MB value never floods the terminal.
pub fn shown(value: &str) -> String {
    let total = value.chars().count();
    let mut out: String = value.chars().take(SHOWN_CHARS).flat_map(char::escape_debug).collect();
    if total > SHOWN_CHARS {
        out.push_str(&format!("… ({total} characters)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_line_is_shown_as_a_window_around_the_error() {
        let text = format!("a = \"{}\" x\n", "y".repeat(10_000_000));
        let err = SpecError::at(10_000_007..10_000_008, "expected a newline");
        let out = render("s.toml", &text, &err);
        assert!(out.len() < 1000, "{} bytes", out.len());
        assert!(out.starts_with("s.toml:1:10000008: expected a newline"), "{out}");
        // The caret still points at the error in the window shown.
        let lines: Vec<&str> = out.lines().collect();
        let caret = lines[2].find('^').unwrap();
        assert_eq!(lines[1].chars().nth(caret), Some('x'));
    }

    #[test]
    fn a_huge_or_hostile_value_is_shown_short_and_escaped() {
        let long = "x".repeat(10_000_000);
        let s = shown(&long);
        assert!(s.len() < 200, "{} bytes", s.len());
        assert!(s.ends_with("(10000000 characters)"));
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
    }

    #[test]
    fn an_error_about_a_key_points_at_its_line() {
        let text = "name = \"x\"\n\n[target]\nkind = \"sim\"\n  model = \"gemini-9\"\n\n[traffic]\nmodel = 1\n";
        let e = SpecError::at_key(12..20, "model", "no such model");
        let shown = render("s.toml", text, &e);
        assert!(shown.starts_with("s.toml:5:3: no such model\n"), "{shown}");
        // A table that does not write the key: the table itself.
        let e = SpecError::at_key(12..20, "profile", "no profile");
        assert!(render("s.toml", text, &e).starts_with("s.toml:3:1: no profile"));
        assert_eq!(
            did_you_mean("input_tokns", ["output_tokens", "input_tokens"]),
            Some("input_tokens")
        );
        assert_eq!(did_you_mean("zzz", ["input_tokens"]), None);
    }

    #[test]
    fn positions_are_one_based() {
        let text = "a = 1\nbb = -2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 11), (2, 6));
        let e = SpecError::at(11..13, "rate must be ≥ 0");
        let shown = render("x.toml", text, &e);
        assert!(shown.starts_with("x.toml:2:6: rate must be ≥ 0\n"), "{shown}");
        assert!(shown.contains("    2 | bb = -2"), "{shown}");
        assert!(shown.ends_with("^^"), "{shown}");
    }
}
