//! Timelines: arrival processes and traces as streams of [`Arrival`]s, and how they compose.
//!
//! A process gives only due times; a trace row also knows sizes and sometimes lane, model,
//! prompt and streaming. Composition: [`Phases`] plays timelines one after another, [`Merge`]
//! superposes two (a spike on top of anything). Every timeline yields in order of due time.

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use rand::RngExt;
use rand_distr::{Distribution, Exp};
use stampede_mock::rng::StreamRng;

use super::arrival::ArrivalProcess;

/// One request's due time and what its source knows about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrival {
    /// Due time from the start of the run.
    pub at: Duration,
    /// Phase index (selects the phase's request sizes); 0 outside phases.
    pub phase: u16,
    /// Prompt size, when the source knows it.
    pub input: Option<u32>,
    /// Answer size, when the source knows it.
    pub output: Option<u32>,
    /// Lane name, when the source knows it.
    pub lane: Option<String>,
    /// Model name, when the source knows it.
    pub model: Option<String>,
    /// Prompt identity, when the source knows it.
    pub prompt_key: Option<u64>,
    /// Whether the answer is streamed, when the source knows it.
    pub stream: Option<bool>,
    /// Shared prompt prefix blocks, when the source knows them (traces).
    pub prefix: Option<super::trace::Prefix>,
}

impl Arrival {
    /// An arrival with nothing but its time.
    pub fn at(at: Duration) -> Arrival {
        Arrival {
            at,
            ..Arrival::default()
        }
    }
}

/// A stream of arrivals in order of due time.
pub trait Timeline: Send {
    /// The next arrival, or `None` when the stream has ended.
    fn next(&mut self) -> Option<Arrival>;
    /// The long-run mean rate in requests per second.
    fn mean_rate(&self) -> f64;
}

/// An arrival process with its own random stream, shifted to start at `offset` and cut at
/// `until` (both from the start of the run).
pub struct ProcessTimeline {
    process: Box<dyn ArrivalProcess>,
    rng: StreamRng,
    offset: Duration,
    until: Option<Duration>,
    phase: u16,
    prev: Duration,
    count: u64,
}

impl ProcessTimeline {
    /// A process starting at `offset`, ending at `until` (or never).
    pub fn new(
        process: Box<dyn ArrivalProcess>,
        rng: StreamRng,
        offset: Duration,
        until: Option<Duration>,
        phase: u16,
    ) -> Self {
        ProcessTimeline {
            process,
            rng,
            offset,
            until,
            phase,
            prev: Duration::ZERO,
            count: 0,
        }
    }
}

impl Timeline for ProcessTimeline {
    fn next(&mut self) -> Option<Arrival> {
        let t = self.process.next(self.prev, self.count, &mut self.rng)?;
        let at = self.offset + t;
        if self.until.is_some_and(|u| at >= u) {
            return None;
        }
        self.prev = t;
        self.count += 1;
        Some(Arrival {
            phase: self.phase,
            ..Arrival::at(at)
        })
    }

    fn mean_rate(&self) -> f64 {
        self.process.mean_rate()
    }
}

/// Builds the timeline of one phase, given its start and end.
pub type PhaseBuilder = Box<dyn FnMut(Duration, Duration) -> Box<dyn Timeline> + Send>;

/// Timelines played one after another, each for its own length.
pub struct Phases {
    lengths: Vec<Duration>,
    builders: Vec<PhaseBuilder>,
    mean_rates: Vec<f64>,
    index: usize,
    start: Duration,
    current: Option<Box<dyn Timeline>>,
}

impl Phases {
    /// Phases of the given lengths; `mean_rates` serve estimates.
    pub fn new(lengths: Vec<Duration>, builders: Vec<PhaseBuilder>, mean_rates: Vec<f64>) -> Phases {
        Phases {
            lengths,
            builders,
            mean_rates,
            index: 0,
            start: Duration::ZERO,
            current: None,
        }
    }
}

impl Timeline for Phases {
    fn next(&mut self) -> Option<Arrival> {
        loop {
            if self.index >= self.lengths.len() {
                return None;
            }
            if self.current.is_none() {
                let end = self.start + self.lengths[self.index];
                self.current = Some((self.builders[self.index])(self.start, end));
            }
            if let Some(a) = self.current.as_mut().and_then(|t| t.next()) {
                return Some(a);
            }
            self.current = None;
            self.start += self.lengths[self.index];
            self.index += 1;
        }
    }

    fn mean_rate(&self) -> f64 {
        let total: f64 = self.lengths.iter().map(Duration::as_secs_f64).sum();
        if total <= 0.0 {
            return 0.0;
        }
        self.lengths
            .iter()
            .zip(&self.mean_rates)
            .map(|(l, r)| l.as_secs_f64() * r)
            .sum::<f64>()
            / total
    }
}

/// Two timelines superposed.
pub struct Merge {
    a: Box<dyn Timeline>,
    b: Box<dyn Timeline>,
    head_a: Option<Arrival>,
    head_b: Option<Arrival>,
    primed: bool,
}

impl Merge {
    /// The superposition of `a` and `b`.
    pub fn new(a: Box<dyn Timeline>, b: Box<dyn Timeline>) -> Merge {
        Merge {
            a,
            b,
            head_a: None,
            head_b: None,
            primed: false,
        }
    }
}

/// Another timeline with each arrival kept with probability `keep` (independent thinning: a
/// Poisson stream stays Poisson at `keep` times the rate).
pub struct Sampled {
    inner: Box<dyn Timeline>,
    keep: f64,
    rng: StreamRng,
}

impl Sampled {
    /// Keeps each arrival of `inner` with probability `keep`.
    pub fn new(inner: Box<dyn Timeline>, keep: f64, rng: StreamRng) -> Sampled {
        Sampled { inner, keep, rng }
    }
}

impl Timeline for Sampled {
    fn next(&mut self) -> Option<Arrival> {
        loop {
            let a = self.inner.next()?;
            if self.rng.random::<f64>() < self.keep {
                return Some(a);
            }
        }
    }

    fn mean_rate(&self) -> f64 {
        self.inner.mean_rate() * self.keep
    }
}

impl Timeline for Merge {
    fn next(&mut self) -> Option<Arrival> {
        if !self.primed {
            self.head_a = self.a.next();
            self.head_b = self.b.next();
            self.primed = true;
        }
        let take_a = match (&self.head_a, &self.head_b) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) => x.at <= y.at,
        };
        if take_a {
            std::mem::replace(&mut self.head_a, self.a.next())
        } else {
            std::mem::replace(&mut self.head_b, self.b.next())
        }
    }

    fn mean_rate(&self) -> f64 {
        self.a.mean_rate() + self.b.mean_rate()
    }
}

/// The extra requests of a spike: Poisson at `extra_rate` between `from` and `to`.
pub struct SpikeTimeline {
    gap: Option<Exp<f64>>,
    rng: StreamRng,
    t: Duration,
    to: Duration,
}

impl SpikeTimeline {
    /// Extra Poisson arrivals at `extra_rate` per second in `[from, to)`.
    pub fn new(extra_rate: f64, from: Duration, to: Duration, rng: StreamRng) -> SpikeTimeline {
        SpikeTimeline {
            gap: (extra_rate > 0.0).then(|| Exp::new(extra_rate).expect("positive rate")),
            rng,
            t: from,
            to,
        }
    }
}

impl Timeline for SpikeTimeline {
    fn next(&mut self) -> Option<Arrival> {
        let gap = self.gap.as_ref()?.sample(&mut self.rng);
        self.t += secs_f64(gap);
        (self.t < self.to).then(|| Arrival::at(self.t))
    }

    fn mean_rate(&self) -> f64 {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::arrival::{Constant, Poisson};
    use stampede_mock::rng::stream_rng;

    fn drain(t: &mut dyn Timeline) -> Vec<Arrival> {
        std::iter::from_fn(|| t.next()).collect()
    }

    #[test]
    fn phases_play_in_sequence_with_their_own_rates() {
        let s = Duration::from_secs;
        let builders: Vec<PhaseBuilder> = vec![
            Box::new(|from, to| {
                Box::new(ProcessTimeline::new(
                    Box::new(Constant::new(2.0)),
                    stream_rng(1, "a"),
                    from,
                    Some(to),
                    0,
                ))
            }),
            Box::new(|from, to| {
                Box::new(ProcessTimeline::new(
                    Box::new(Constant::new(10.0)),
                    stream_rng(1, "b"),
                    from,
                    Some(to),
                    1,
                ))
            }),
        ];
        let mut p = Phases::new(vec![s(5), s(3)], builders, vec![2.0, 10.0]);
        assert!((p.mean_rate() - (10.0 + 30.0) / 8.0).abs() < 1e-12);
        let all = drain(&mut p);
        assert_eq!(all.len(), 10 + 30);
        assert_eq!(all[9].at, Duration::from_millis(4500));
        assert_eq!((all[10].at, all[10].phase), (s(5), 1));
        assert!(all.iter().all(|a| a.at < s(8)));
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn a_spike_adds_its_extra_rate_only_in_its_window() {
        let s = Duration::from_secs;
        let base = Box::new(ProcessTimeline::new(
            Box::new(Poisson::new(10.0)),
            stream_rng(2, "base"),
            s(0),
            Some(s(600)),
            0,
        ));
        // 5× for 60 s at t = 300 s: 40 extra per second.
        let spike = Box::new(SpikeTimeline::new(40.0, s(300), s(360), stream_rng(2, "spike")));
        let all = drain(&mut Merge::new(base, spike));
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
        let count = |a: u64, b: u64| all.iter().filter(|x| x.at >= s(a) && x.at < s(b)).count() as f64;
        let inside = count(300, 360) / 60.0;
        let before = count(0, 300) / 300.0;
        assert!((inside / 50.0 - 1.0).abs() < 0.1, "{inside}/s in the spike");
        assert!((before / 10.0 - 1.0).abs() < 0.1, "{before}/s before it");
    }
}
