//! Number formatting shared by every output, so the terminal, Markdown and HTML agree.

/// Milliseconds as "612 ms", "1.24 s" or "—" when there is no figure.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v < 1.0 => format!("{v:.3} ms"),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) if v < 1000.0 => format!("{v:.0} ms"),
        Some(v) if v < 60_000.0 => format!("{:.2} s", v / 1000.0),
        Some(v) => format!("{:.1} min", v / 60_000.0),
    }
}

/// A latency and its 95% half-width, the half-width in the mean's own unit ("20.71 s ± 0.35 s",
/// never "20.71 s ± 350 ms"; "1.6 min ± 2.6 min", never "1.6 min ± 154.47 s"), and "± 0" when
/// every seed agreed.
pub fn ms_pm(mean: f64, ci: f64) -> String {
    if ci.abs() < 1e-9 {
        format!("{} ± 0", ms(Some(mean)))
    } else if mean >= 60_000.0 {
        format!("{} ± {:.1} min", ms(Some(mean)), ci / 60_000.0)
    } else if mean >= 1000.0 {
        format!("{} ± {:.2} s", ms(Some(mean)), ci / 1000.0)
    } else {
        format!("{} ± {}", ms(Some(mean)), ms(Some(ci)))
    }
}

/// Seconds as "25 s", "1.5 s", "62 min 05 s", "2 h 03 min" (rounded before splitting, so
/// 86,399.7 s is "24 h 00 min", never "23 h 60 min").
pub fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        let whole = s.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let minutes = (s / 60.0).round() as u64;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// A worker count with its noun: "1 worker", "3 workers".
pub fn workers(n: u32) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}

/// A share as "48.0%" or "—".
pub fn pct(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v > 0.0 && v < 0.001 => format!("{:.3}%", v * 100.0),
        Some(v) => format!("{:.1}%", v * 100.0),
    }
}

/// An integer with thousands separators: "12,345".
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate as "10.0/s".
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}/s")
    } else {
        format!("{v:.2}/s")
    }
}

/// Dollars as "$0.1234" or "—".
pub fn usd(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v < 10.0 => format!("${v:.4}"),
        Some(v) if v < 1000.0 => format!("${v:.2}"),
        Some(v) => format!(
            "${}.{:02}",
            count(v.trunc() as u64),
            ((v.fract() * 100.0).round() as u64).min(99)
        ),
    }
}

/// A cost per hour: to the cent (a run's cost of a few cents keeps [`usd`]'s four digits).
pub fn usd_hour(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 1000.0 => format!("${v:.2}"),
        other => usd(other),
    }
}

/// `text` wrapped at `width` columns on spaces, continuation lines indented by `indent`, each
/// line ending in a newline (a word longer than the width stays whole).
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            let full = line.chars().count() + 1 + word.chars().count() > width;
            if full && !word.is_empty() && !line.trim().is_empty() {
                out.push_str(line.trim_end());
                out.push('\n');
                line = " ".repeat(indent);
                line.push_str(word);
                continue;
            }
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_on_spaces_with_an_indent() {
        assert_eq!(wrap("aa bb cc", 5, 2), "aa bb\n  cc\n");
        assert_eq!(wrap("  topic   value", 40, 0), "  topic   value\n");
        assert_eq!(wrap("longerword x", 4, 1), "longerword\n x\n");
    }

    #[test]
    fn one_worker_is_singular() {
        assert_eq!(workers(1), "1 worker");
        assert_eq!(workers(0), "0 workers");
        assert_eq!(workers(12), "12 workers");
    }

    #[test]
    fn an_interval_is_in_its_means_unit() {
        assert_eq!(ms_pm(96_000.0, 154_470.0), "1.6 min ± 2.6 min");
        assert_eq!(ms_pm(20_710.0, 350.0), "20.71 s ± 0.35 s");
        assert_eq!(ms_pm(612.0, 35.0), "612 ms ± 35 ms");
        assert_eq!(ms_pm(612.0, 0.0), "612 ms ± 0");
    }

    #[test]
    fn formats() {
        assert_eq!(ms(Some(612.4)), "612 ms");
        assert_eq!(ms(Some(1240.0)), "1.24 s");
        assert_eq!(ms(None), "—");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(usd(Some(15970.934)), "$15,970.93");
        assert_eq!(usd(Some(250.0)), "$250.00");
        assert_eq!(count(12), "12");
        assert_eq!(pct(Some(0.48)), "48.0%");
        assert_eq!(secs(3725.0), "62 min 05 s");
        assert_eq!(secs(86_399.7), "24 h 00 min");
        assert_eq!(secs(3599.6), "60 min 00 s");
        assert_eq!(usd(Some(0.12345)), "$0.1235");
    }
}
