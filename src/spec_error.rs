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
}

impl SpecError {
    /// An error blaming the text at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> SpecError {
        SpecError {
            span: Some(span),
            message: message.into(),
        }
    }

    /// An error about the file as a whole.
    pub fn whole(message: impl Into<String>) -> SpecError {
        SpecError {
            span: None,
            message: message.into(),
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Formats an error as `path:line:column: message`, with the offending line shown.
pub fn render(path: &str, text: &str, err: &SpecError) -> String {
    match &err.span {
        None => format!("{path}: {}", err.message),
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            let source = text.lines().nth(line - 1).unwrap_or("");
            let width = text[span.clone()]
                .lines()
                .next()
                .map_or(1, |l| l.chars().count().max(1));
            format!(
                "{path}:{line}:{col}: {msg}\n{line:>5} | {source}\n      | {pad}{marks}",
                msg = err.message,
                pad = " ".repeat(col - 1),
                marks = "^".repeat(width.min(source.chars().count().saturating_sub(col - 1).max(1)))
            )
        }
    }
}

/// Converts a TOML parser error, keeping its position.
pub fn from_toml(err: &toml::de::Error) -> SpecError {
    SpecError {
        span: err.span(),
        message: err.message().trim().to_string(),
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
    fn a_huge_or_hostile_value_is_shown_short_and_escaped() {
        let long = "x".repeat(10_000_000);
        let s = shown(&long);
        assert!(s.len() < 200, "{} bytes", s.len());
        assert!(s.ends_with("(10000000 characters)"));
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
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
