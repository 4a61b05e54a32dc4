//! Closed loop: N virtual users, each sending a request, waiting for its end, thinking, and
//! sending the next. The rate follows latency, as in session-based load tests (k6's VUs,
//! Locust's users). A request's intended start is the moment its user sends it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use stampede_mock::dist::{DurationDist, DurationSampler};
use stampede_mock::rng::{stream_rng, StreamRng};

use super::mix::Mix;
use super::timeline::Arrival;
use super::{Peek, PlannedRequest, TrafficSource, TrafficSpec};

/// The closed-loop source.
pub struct ClosedLoop {
    think: DurationSampler,
    think_rng: StreamRng,
    ready: BinaryHeap<Reverse<(Duration, u32)>>,
    busy: u32,
    mix: Mix,
    mix_rng: StreamRng,
    sizes_rng: StreamRng,
    duration: Duration,
    count: u64,
}

impl ClosedLoop {
    /// `spec.users` users over `duration`; users stop sending at the end of the window.
    pub fn new(spec: &TrafficSpec, mix: Mix, seed: u64, duration: Duration) -> ClosedLoop {
        let users = spec.users.as_ref().map_or(1, |u| *u.get_ref());
        let ramp_up = spec
            .ramp_up
            .as_ref()
            .and_then(|r| humantime::parse_duration(r.get_ref()).ok())
            .unwrap_or_default();
        let think = spec
            .think
            .as_ref()
            .map_or(DurationDist::Constant(Duration::ZERO), |t| t.get_ref().clone());
        let ready = (0..users)
            .map(|u| Reverse((ramp_up.mul_f64(f64::from(u) / f64::from(users)), u)))
            .collect();
        ClosedLoop {
            think: think.sampler(),
            think_rng: stream_rng(seed, "think"),
            ready,
            busy: 0,
            mix,
            mix_rng: stream_rng(seed, "mix"),
            sizes_rng: stream_rng(seed, "sizes"),
            duration,
            count: 0,
        }
    }
}

impl TrafficSource for ClosedLoop {
    fn peek(&mut self) -> Peek {
        while let Some(Reverse((at, _))) = self.ready.peek() {
            if *at < self.duration {
                return Peek::Due(*at);
            }
            // This user's next request would fall after the window: the user stops.
            self.ready.pop();
        }
        if self.busy > 0 {
            Peek::Wait
        } else {
            Peek::Done
        }
    }

    fn take(&mut self) -> Option<PlannedRequest> {
        if !matches!(self.peek(), Peek::Due(_)) {
            return None;
        }
        let Reverse((at, user)) = self.ready.pop()?;
        self.busy += 1;
        let id = self.count;
        self.count += 1;
        let mut r = self
            .mix
            .plan(Arrival::at(at), id, &mut self.mix_rng, &mut self.sizes_rng);
        r.user = user;
        Some(r)
    }

    fn ended(&mut self, user: u32, at: Duration) {
        self.busy = self.busy.saturating_sub(1);
        let think = self.think.sample(&mut self.think_rng);
        self.ready.push(Reverse((at + think, user)));
    }
}
