//! The latency of answered requests interval by interval, for HdrHistogram interval logs.
//!
//! An interval's histogram is encoded as soon as a later interval opens: a full-range
//! histogram at 3 significant digits holds tens of thousands of counters (a few hundred KiB),
//! so a run of 600 intervals kept open would hold most of its memory there, while an encoded
//! interval is a few hundred bytes. Requests end in time order, so one histogram is open at a
//! time; one that ends in an interval already closed is merged back into it.

use std::time::Duration;

use crate::histogram::LatencyHistogram;

/// Interval histograms, closed ones encoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntervalLog {
    /// Length of each interval.
    pub interval: Duration,
    /// Encoded histograms of the closed intervals, from the start (empty ones included).
    closed: Vec<String>,
    /// The open interval and its histogram.
    open: Option<(usize, LatencyHistogram)>,
    /// Whether this log records at all: a run of several replicas keeps one log for the
    /// replicas it reports instead of one each (merging 600 intervals per replica costs more
    /// than the run).
    #[serde(default = "kept")]
    kept: bool,
}

fn kept() -> bool {
    true
}

impl IntervalLog {
    /// An empty log of intervals of `interval` (at least 1 ms).
    pub fn new(interval: Duration) -> IntervalLog {
        IntervalLog {
            interval: interval.max(Duration::from_millis(1)),
            closed: Vec::new(),
            open: None,
            kept: true,
        }
    }

    /// A log of `interval` that records nothing (its requests are logged elsewhere).
    pub fn not_kept(interval: Duration) -> IntervalLog {
        IntervalLog {
            kept: false,
            ..IntervalLog::new(interval)
        }
    }

    /// Whether it records.
    pub fn is_kept(&self) -> bool {
        self.kept
    }

    /// Records the latency of a request answered at `ended` (since the run's start).
    pub fn record(&mut self, ended: Duration, latency: Duration) {
        if !self.kept {
            return;
        }
        let slot = (ended.as_nanos() / self.interval.as_nanos()) as usize;
        match &mut self.open {
            Some((open, h)) if *open == slot => h.record(latency),
            Some((open, _)) if slot < *open => self.record_late(slot, latency),
            _ => {
                self.close();
                let mut h = LatencyHistogram::default();
                h.record(latency);
                self.open = Some((slot, h));
            }
        }
    }

    /// Encodes the open interval into `closed` (empty intervals before it included).
    fn close(&mut self) {
        if let Some((slot, h)) = self.open.take() {
            pad_to(&mut self.closed, slot);
            self.closed.push(h.encode());
        }
    }

    /// A request that ended in an interval already closed: merged into its histogram.
    fn record_late(&mut self, slot: usize, latency: Duration) {
        pad_to(&mut self.closed, slot + 1);
        let mut h = LatencyHistogram::decode(&self.closed[slot]).unwrap_or_default();
        h.record(latency);
        self.closed[slot] = h.encode();
    }

    /// Replaces every interval with `encoded` (all closed).
    pub(super) fn replace(&mut self, encoded: Vec<String>) {
        self.closed = encoded;
        self.open = None;
    }

    /// Every interval's encoded histogram, from the start to the last one with an answer.
    pub fn encoded(&self) -> Vec<String> {
        let mut out = self.closed.clone();
        if let Some((slot, h)) = &self.open {
            pad_to(&mut out, *slot);
            out.push(h.encode());
        }
        out
    }
}

/// Fills `intervals` with empty ones up to `slot` (exclusive).
fn pad_to(intervals: &mut Vec<String>, slot: usize) {
    if intervals.len() < slot {
        intervals.resize(slot, LatencyHistogram::default().encode());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_kept_in_order_with_empty_ones_and_late_answers() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let mut log = IntervalLog::new(s(1));
        log.record(ms(200), ms(10));
        log.record(ms(900), ms(20));
        log.record(ms(3_100), ms(30));
        log.record(ms(2_500), ms(40)); // late: interval 2 was closed when 3 opened
        let counts: Vec<u64> = log
            .encoded()
            .iter()
            .map(|e| LatencyHistogram::decode(e).unwrap().count())
            .collect();
        assert_eq!(counts, [2, 0, 1, 1]);
    }
}
