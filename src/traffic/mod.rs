//! Traffic: the planned requests of a run, from the `[traffic]` section and the seed.
//!
//! Traffic knows nothing of strategies, backends or the engine, and reads no clock. It yields
//! [`PlannedRequest`]s in order of due time. Arrival times and request sizes come from separate
//! random streams, so every strategy compared on one seed sees exactly the same requests.

pub mod arrival;
pub mod spec;

use std::time::Duration;

use stampede_mock::dist::NumberSampler;
use stampede_mock::rng::{stream_rng, StreamRng};

use arrival::ArrivalProcess;
pub use spec::TrafficSpec;

/// One request the traffic wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Sequence number, from 0.
    pub id: u64,
    /// Intended start, as an offset from the start of the run.
    pub at: Duration,
    /// Prompt size in tokens.
    pub input_tokens: u32,
    /// Wanted answer size in tokens.
    pub output_tokens: u32,
    /// Lane index (0 when the traffic has no lanes).
    pub lane: u8,
    /// Model index into the run's model list.
    pub model: u8,
    /// Prompt identity: equal keys mean identical prompts (cache and dedup find them).
    pub prompt_key: u64,
    /// Whether the answer is streamed.
    pub stream: bool,
}

/// The planned requests of one run, in order of due time.
pub struct Traffic {
    arrivals: Box<dyn ArrivalProcess>,
    arrival_rng: StreamRng,
    sizes_rng: StreamRng,
    input_tokens: NumberSampler,
    output_tokens: NumberSampler,
    duration: Duration,
    count: u64,
    prev: Duration,
}

impl Traffic {
    /// Traffic for `spec` over `duration`, seeded.
    pub fn new(spec: &TrafficSpec, seed: u64, duration: Duration) -> Traffic {
        Traffic {
            arrivals: spec.arrival_process(),
            arrival_rng: stream_rng(seed, "arrivals"),
            sizes_rng: stream_rng(seed, "sizes"),
            input_tokens: spec.input_tokens.sampler(),
            output_tokens: spec.output_tokens.sampler(),
            duration,
            count: 0,
            prev: Duration::ZERO,
        }
    }

    /// The arrival process's long-run mean rate (requests per second).
    pub fn mean_rate(&self) -> f64 {
        self.arrivals.mean_rate()
    }
}

impl Iterator for Traffic {
    type Item = PlannedRequest;

    fn next(&mut self) -> Option<PlannedRequest> {
        let at = self.arrivals.next(self.prev, self.count, &mut self.arrival_rng)?;
        if at >= self.duration {
            return None;
        }
        self.prev = at;
        let id = self.count;
        self.count += 1;
        Some(PlannedRequest {
            id,
            at,
            input_tokens: self.input_tokens.sample_count(&mut self.sizes_rng, 1),
            output_tokens: self.output_tokens.sample_count(&mut self.sizes_rng, 1),
            lane: 0,
            model: 0,
            prompt_key: id,
            stream: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> TrafficSpec {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn same_seed_same_traffic_and_stops_at_duration() {
        let s =
            spec("arrival = \"poisson\"\nrate = 50\ninput_tokens = { dist = \"lognormal\", median = 800, p99 = 6000 }");
        let a: Vec<_> = Traffic::new(&s, 3, Duration::from_secs(60)).collect();
        let b: Vec<_> = Traffic::new(&s, 3, Duration::from_secs(60)).collect();
        let c: Vec<_> = Traffic::new(&s, 4, Duration::from_secs(60)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            (a.len() as f64 - 3000.0).abs() < 3.0 * 3000f64.sqrt() * 1.5,
            "{}",
            a.len()
        );
        assert!(a.iter().all(|r| r.at < Duration::from_secs(60)));
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at && w[0].id + 1 == w[1].id));
    }

    #[test]
    fn constant_traffic_has_exact_count_and_sizes() {
        let s = spec("arrival = \"constant\"\nrate = 10\ninput_tokens = 800\noutput_tokens = 30");
        let reqs: Vec<_> = Traffic::new(&s, 1, Duration::from_secs(10)).collect();
        assert_eq!(reqs.len(), 100);
        assert!(reqs.iter().all(|r| r.input_tokens == 800 && r.output_tokens == 30));
        assert_eq!(reqs[99].at, Duration::from_millis(9900));
    }
}
