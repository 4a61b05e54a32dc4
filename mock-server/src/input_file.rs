//! Every input file the tools read goes through here: a regular file only (a FIFO would block
//! forever, `/dev/zero` never ends, a folder is a mistake), at most a size per kind of file, and
//! a trace read as a stream whose lines have a length limit — so no file, however large or
//! strange, makes a command hang or grow without bound. Errors name the file (and the line).
//!
//! A file's type is checked before it is opened (opening a FIFO would wait for a writer) and
//! again on the open handle (the path may have changed in between).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A kind of input file, which decides how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A scenario (TOML).
    Scenario,
    /// A catalog extending the embedded one (TOML).
    Catalog,
    /// A mock profile (TOML, or JSON as stampede writes it).
    Profile,
    /// A calling plan given to `--strategy` (TOML).
    Strategy,
    /// A saved `summary.json`.
    Summary,
    /// A trace (CSV or JSONL): any size, read as a stream of lines of at most
    /// [`MAX_LINE_BYTES`].
    Trace,
}

/// The largest configuration file (scenario, catalog, profile, strategy): 4 MiB, a hundred
/// times the largest shipped one.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The largest saved summary: 64 MiB (a day-long run's summary is a few MiB).
pub const MAX_SUMMARY_BYTES: u64 = 64 << 20;

/// The longest line of a trace: 1 MiB (a Mooncake row with a 100,000-token prompt's block ids
/// is under 10 KiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

impl InputKind {
    /// What the kind is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Scenario => "scenario",
            InputKind::Catalog => "catalog",
            InputKind::Profile => "mock profile",
            InputKind::Strategy => "strategy file",
            InputKind::Summary => "summary",
            InputKind::Trace => "trace",
        }
    }

    /// The largest file of this kind read whole (`None`: read as a stream, any size).
    pub fn max_bytes(self) -> Option<u64> {
        match self {
            InputKind::Scenario | InputKind::Catalog | InputKind::Profile | InputKind::Strategy => {
                Some(MAX_CONFIG_BYTES)
            }
            InputKind::Summary => Some(MAX_SUMMARY_BYTES),
            InputKind::Trace => None,
        }
    }
}

/// Why an input file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The path is a FIFO, a device, a socket or a folder.
    #[error("{path}: is {what}, not a regular file; a {kind} is read from a regular file only")]
    NotAFile {
        /// The file.
        path: String,
        /// What it is instead ("a FIFO (named pipe)").
        what: &'static str,
        /// The kind of input expected.
        kind: &'static str,
    },
    /// The file is larger than its kind may be.
    #[error("{path}: {size} is more than the {limit} a {kind} may be")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size (or "more than LIMIT" when it grew while read).
        size: Bytes,
        /// The limit.
        limit: Bytes,
        /// The kind of input.
        kind: &'static str,
    },
    /// The file is not UTF-8 text.
    #[error("{path}:{line}:{column}: not UTF-8 text (a {kind} is UTF-8)")]
    NotUtf8 {
        /// The file.
        path: String,
        /// 1-based line of the first bad byte.
        line: usize,
        /// 1-based column (in characters) of the first bad byte.
        column: usize,
        /// The kind of input.
        kind: &'static str,
    },
}

/// A byte count as people read it (`4 MiB`, `5.0 GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1 << 20 && b % (1 << 20) == 0 {
            write!(f, "{} MiB", b >> 20)
        } else if b >= 1_000_000_000 {
            write!(f, "{:.1} GB", b as f64 / 1e9)
        } else if b >= 1_000_000 {
            write!(f, "{:.1} MB", b as f64 / 1e6)
        } else {
            write!(f, "{b} bytes")
        }
    }
}

/// What a file type is, in a message, when it is not a regular file.
fn not_regular(t: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    if t.is_dir() {
        return Some("a folder");
    }
    (!t.is_file()).then_some("not a regular file")
}

/// Opens `path` as a `kind` input: a regular file (checked before and after opening), no
/// larger than the kind allows.
pub fn open(path: &Path, kind: InputKind) -> Result<File, InputError> {
    let shown = || path.display().to_string();
    let io_err = |source| InputError::Io { path: shown(), source };
    let check = |meta: &std::fs::Metadata| -> Result<(), InputError> {
        if let Some(what) = not_regular(&meta.file_type()) {
            return Err(InputError::NotAFile {
                path: shown(),
                what,
                kind: kind.name(),
            });
        }
        match kind.max_bytes() {
            Some(limit) if meta.len() > limit => Err(InputError::TooLarge {
                path: shown(),
                size: Bytes(meta.len()),
                limit: Bytes(limit),
                kind: kind.name(),
            }),
            _ => Ok(()),
        }
    };
    check(&std::fs::metadata(path).map_err(io_err)?)?;
    let file = File::open(path).map_err(io_err)?;
    check(&file.metadata().map_err(io_err)?)?;
    Ok(file)
}

/// Reads a whole `kind` file as UTF-8 text: at most its kind's size, even if it grows while
/// read; a byte-order mark is left for the parser.
pub fn read_to_string(path: &Path, kind: InputKind) -> Result<String, InputError> {
    let file = open(path, kind)?;
    let limit = kind.max_bytes().unwrap_or(MAX_SUMMARY_BYTES);
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.display().to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.display().to_string(),
            size: Bytes(bytes.len() as u64),
            limit: Bytes(limit),
            kind: kind.name(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = std::str::from_utf8(good).unwrap_or_default();
        InputError::NotUtf8 {
            path: path.display().to_string(),
            line: text.matches('\n').count() + 1,
            column: text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            kind: kind.name(),
        }
    })
}

/// A line longer than the reader allows; carried inside the `io::Error` a [`LineLimited`]
/// reader returns, so the caller can name the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line} is longer than {limit}, the longest line read", limit = Bytes(*.limit as u64))]
pub struct LineTooLong {
    /// 1-based line number.
    pub line: u64,
    /// The limit in bytes.
    pub limit: usize,
}

impl LineTooLong {
    /// The [`LineTooLong`] inside an I/O error, if that is what it is.
    pub fn of(e: &io::Error) -> Option<LineTooLong> {
        e.get_ref()?.downcast_ref::<LineTooLong>().copied()
    }
}

/// A reader that fails once a line runs past `limit` bytes, and keeps failing: a line-oriented
/// parser above it (CSV, JSON lines) never buffers more than one bounded line. In CSV mode a
/// newline inside double quotes does not end the line (it does not end the CSV record either),
/// so a quoted field spanning a million lines is bounded too.
#[derive(Debug)]
pub struct LineLimited<R> {
    inner: R,
    limit: usize,
    in_line: usize,
    line: u64,
    tripped: bool,
    csv: bool,
    in_quotes: bool,
}

impl<R: Read> LineLimited<R> {
    /// `inner` with lines of at most `limit` bytes (newline excluded).
    pub fn new(inner: R, limit: usize) -> LineLimited<R> {
        LineLimited {
            inner,
            limit,
            in_line: 0,
            line: 1,
            tripped: false,
            csv: false,
            in_quotes: false,
        }
    }

    /// `inner` read as CSV: records (lines, with quoted newlines inside them) of at most
    /// `limit` bytes.
    pub fn csv(inner: R, limit: usize) -> LineLimited<R> {
        LineLimited {
            csv: true,
            ..LineLimited::new(inner, limit)
        }
    }

    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            LineTooLong {
                line: self.line,
                limit: self.limit,
            },
        )
    }
}

impl<R: Read> Read for LineLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped {
            return Err(self.too_long());
        }
        // Never hand out more than the rest of the allowed line plus its newline, so the
        // error comes before the parser has buffered more than one line's worth.
        let room = (self.limit - self.in_line + 1).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        for &b in &buf[..n] {
            if self.csv && b == b'"' {
                // A doubled quote inside a quoted field toggles twice: parity holds.
                self.in_quotes = !self.in_quotes;
            }
            if b == b'\n' {
                self.line += 1;
            }
            if b == b'\n' && !self.in_quotes {
                self.in_line = 0;
            } else {
                self.in_line += 1;
                if self.in_line > self.limit {
                    self.tripped = true;
                    return Err(self.too_long());
                }
            }
        }
        Ok(n)
    }
}

/// Opens a trace for streaming: a regular file, read through a [`LineLimited`] reader with
/// lines (CSV records when `csv`) of at most [`MAX_LINE_BYTES`].
pub fn open_lines(path: &Path, csv: bool) -> Result<LineLimited<File>, InputError> {
    let file = open(path, InputKind::Trace)?;
    Ok(if csv {
        LineLimited::csv(file, MAX_LINE_BYTES)
    } else {
        LineLimited::new(file, MAX_LINE_BYTES)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("stampede-input-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn folders_and_devices_are_refused_by_name() {
        let e = read_to_string(Path::new("/dev/zero"), InputKind::Catalog).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: is a device, not a regular file; a catalog is read from a regular file only"
        );
        let dir = std::env::temp_dir();
        let e = read_to_string(&dir, InputKind::Scenario).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }

    #[test]
    fn a_file_past_its_kind_is_refused_without_reading_it() {
        let path = temp("big.toml", &vec![b'#'; (MAX_CONFIG_BYTES + 1) as usize]);
        let e = read_to_string(&path, InputKind::Profile).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("4.2 MB is more than the 4 MiB a mock profile may be"),
            "{e}"
        );
        assert!(read_to_string(&path, InputKind::Summary).is_ok());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_utf8_is_placed() {
        let path = temp("bad.toml", b"a = 1\nbb\xff = 2\n");
        let e = read_to_string(&path, InputKind::Scenario).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("bad.toml:2:3: not UTF-8 text (a scenario is UTF-8)"),
            "{e}"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_long_line_fails_at_its_number_and_keeps_failing() {
        let text = format!("ok\n{}\nmore\n", "x".repeat(100));
        let mut lines = BufReader::new(LineLimited::new(text.as_bytes(), 10)).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ok");
        let e = lines.next().unwrap().unwrap_err();
        assert_eq!(LineTooLong::of(&e), Some(LineTooLong { line: 2, limit: 10 }));
        assert!(lines.next().unwrap().is_err());
        // Exactly the limit is fine.
        let text = format!("{}\n{}", "y".repeat(10), "z".repeat(10));
        let got: Vec<String> = BufReader::new(LineLimited::new(text.as_bytes(), 10))
            .lines()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_quoted_csv_field_over_many_lines_counts_as_one_line() {
        let text = format!("a,b\n\"{}", "x\n".repeat(100));
        let mut all = Vec::new();
        let e = LineLimited::csv(text.as_bytes(), 50).read_to_end(&mut all).unwrap_err();
        assert_eq!(LineTooLong::of(&e).map(|l| l.limit), Some(50));
        // Closed quotes (and doubled ones) end the record as usual.
        let text = "a,\"b\"\"c\"\n".repeat(100);
        let mut all = Vec::new();
        LineLimited::csv(text.as_bytes(), 20).read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), text.len());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = std::env::temp_dir().join(format!("stampede-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = open_lines(&fifo, false).unwrap_err();
            assert!(e.to_string().contains("is a FIFO (named pipe)"), "{e}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
