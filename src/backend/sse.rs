//! Server-sent events: splitting a byte stream into the `data:` payloads of whole events.

/// Splits complete SSE events off the front of `buf` (LF or CRLF line endings).
pub fn take_events(buf: &mut String) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let normalized_end = buf.find("\n\n").map(|i| (i, 2));
        let crlf_end = buf.find("\r\n\r\n").map(|i| (i, 4));
        let end = match (normalized_end, crlf_end) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((i, sep)) = end else { break };
        let event: String = buf.drain(..i + sep).collect();
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        if !data.is_empty() {
            out.push(data.join("\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_on_lf_and_crlf() {
        let mut buf = String::from("data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\n\ndata: {\"c\"");
        assert_eq!(take_events(&mut buf), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(buf, "data: {\"c\"");
    }
}
