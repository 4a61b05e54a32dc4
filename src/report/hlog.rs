//! `latency.hlog`: the run's latency in HdrHistogram's interval-log format, readable by the
//! HdrHistogram ecosystem's own tools (`HistogramLogProcessor`, HdrHistogram Python's
//! `HistogramLogReader`, HistogramLogAnalyzer).
//!
//! Each interval holds the end-to-end latency (from intended start) of the requests answered in
//! that interval of the run (the interval is `histograms.intervals.seconds` in summary.json), so
//! summing the log gives the run's latency histogram. Only this one measure goes in, untagged:
//! simple readers add up every line of a log. Values are microseconds and the max column is in
//! milliseconds (`MaxValueDivisor` 1000). Timestamps are seconds since the start of the run,
//! with `BaseTime` and `StartTime` set to its wall-clock start.

use stampede_mock::duration::secs as secs_f64;
use std::time::SystemTime;

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::histogram::LatencyHistogram;
use crate::summary::Summary;

/// The interval log of a run.
pub fn interval_log(s: &Summary) -> String {
    let started = humantime::parse_rfc3339(&s.run.started_at).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment(&format!(
                "stampede {} · scenario {} · target {} · seed {}",
                s.stampede_version, s.run.scenario, s.run.target, s.run.seed
            ))
            .add_comment("end-to-end latency of the requests answered in each interval, in microseconds")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1000.0);
        let mut log = builder
            .begin_log_with(&mut out, &mut serializer)
            .expect("writing to memory cannot fail");
        let step = secs_f64(s.histograms.intervals.seconds.max(0.001));
        for (i, text) in s.histograms.intervals.latency.iter().enumerate() {
            let Ok(h) = LatencyHistogram::decode(text) else {
                continue;
            };
            if h.count() > 0 {
                log.write_histogram(h.inner(), step * i as u32, step, None)
                    .expect("writing to memory cannot fail");
            }
        }
    }
    String::from_utf8(out).expect("the log is text")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;

    use super::*;

    #[test]
    fn reads_back_with_hdrhistograms_own_parser() {
        let mut s = crate::summary::empty_for_tests();
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        for ms in [100u64, 200, 300] {
            a.record(Duration::from_millis(ms));
        }
        b.record(Duration::from_millis(2_000));
        s.histograms.intervals.seconds = 1.0;
        s.histograms.intervals.latency = vec![a.encode(), LatencyHistogram::default().encode(), b.encode()];
        let log = interval_log(&s);
        let mut untagged = Vec::new();
        for entry in IntervalLogIterator::new(log.as_bytes()) {
            if let LogEntry::Interval(i) = entry.expect("every line parses") {
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                    .expect("base64");
                let h: hdrhistogram::Histogram<u64> = Deserializer::new().deserialize(&mut bytes.as_slice()).unwrap();
                let row = (i.start_timestamp().as_secs_f64(), h.len(), i.max());
                assert!(i.tag().is_none());
                untagged.push(row);
            }
        }
        // The empty second interval is left out; the third starts at 2 s; max is in ms.
        assert_eq!(untagged.len(), 2);
        assert_eq!((untagged[0].0, untagged[0].1), (0.0, 3));
        assert_eq!((untagged[1].0, untagged[1].1), (2.0, 1));
        assert!((untagged[1].2 - 2000.0).abs() < 2.0, "{}", untagged[1].2);
        assert!(log.contains("#[BaseTime: "), "{log}");
        assert!(
            log.contains("#[MaxValueDivisor: 1000.000]") || log.contains("MaxValueDivisor"),
            "{log}"
        );
    }
}
