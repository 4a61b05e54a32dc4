//! Conversations: new ones arrive at `rate` per second (Poisson); each has `turns` turns. A
//! turn's prompt is the whole history so far — every earlier message and its answer — and the
//! new message; the next turn is sent `think` after the answer arrives (the engine tells the
//! source when a request ended). A conversation keeps its first turn's lane, model and
//! streaming; its messages and answers take the traffic's sizes. The shared history is the
//! prefix implicit caching serves. No turn starts after the traffic window: conversations still
//! going then are cut short.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use stampede_mock::dist::{DurationDist, DurationSampler, NumberDist, NumberSampler};
use stampede_mock::rng::{stream_rng, StreamRng};

use super::mix::Mix;
use super::timeline::{Arrival, Timeline};
use super::{Peek, PlannedRequest, TrafficSource, TrafficSpec};

/// One conversation in progress.
struct Conversation {
    lane: u8,
    model: u8,
    stream: bool,
    turns: u32,
    /// (message, answer) tokens of its finished turns.
    history: Vec<(u32, u32)>,
    /// The turn in flight: (message, answer) tokens.
    current: (u32, u32),
}

/// The sessions source.
pub struct Sessions {
    rate: f64,
    next_start: Duration,
    /// Extra conversation starts (the scenario's spikes), and the next of them.
    extra: Option<Box<dyn Timeline>>,
    next_extra: Option<Duration>,
    arrivals: StreamRng,
    turns: NumberSampler,
    turns_rng: StreamRng,
    think: DurationSampler,
    think_rng: StreamRng,
    ready: BinaryHeap<Reverse<(Duration, u32)>>,
    active: HashMap<u32, Conversation>,
    busy: u32,
    mix: Mix,
    mix_rng: StreamRng,
    sizes_rng: StreamRng,
    duration: Duration,
    count: u64,
    conversations: u32,
}

impl Sessions {
    /// Conversations at `spec.rate` per second over `duration`, plus those `extra` starts (a
    /// lunch-hour spike of new conversations).
    pub fn new(
        spec: &TrafficSpec,
        rate: f64,
        mix: Mix,
        seed: u64,
        duration: Duration,
        mut extra: Option<Box<dyn Timeline>>,
    ) -> Sessions {
        let next_extra = extra.as_mut().and_then(|t| t.next()).map(|a| a.at);
        let turns = spec
            .turns
            .as_ref()
            .map_or(NumberDist::Constant(1.0), |t| t.get_ref().clone());
        let think = spec
            .think
            .as_ref()
            .map_or(DurationDist::Constant(Duration::ZERO), |t| t.get_ref().clone());
        let mut arrivals = stream_rng(seed, "sessions/arrivals");
        let first = gap(rate, &mut arrivals);
        Sessions {
            rate,
            next_start: first,
            extra,
            next_extra,
            arrivals,
            turns: turns.sampler(),
            turns_rng: stream_rng(seed, "sessions/turns"),
            think: think.sampler(),
            think_rng: stream_rng(seed, "think"),
            ready: BinaryHeap::new(),
            active: HashMap::new(),
            busy: 0,
            mix,
            mix_rng: stream_rng(seed, "mix"),
            sizes_rng: stream_rng(seed, "sizes"),
            duration,
            count: 0,
            conversations: 0,
        }
    }

    /// Drops the turns due after the window (their conversations are cut short).
    fn drop_late(&mut self) {
        while let Some(&Reverse((at, id))) = self.ready.peek() {
            if at < self.duration {
                break;
            }
            self.ready.pop();
            self.active.remove(&id);
        }
    }

    fn plan(&mut self, at: Duration) -> PlannedRequest {
        let id = self.count;
        self.count += 1;
        self.mix
            .plan(Arrival::at(at), id, &mut self.mix_rng, &mut self.sizes_rng)
    }
}

impl Sessions {
    /// When the next conversation starts: the next of the Poisson starts and the spikes' extra
    /// ones.
    fn next_conversation(&self) -> Duration {
        self.next_extra.map_or(self.next_start, |e| e.min(self.next_start))
    }
}

/// An exponential gap at `rate` per second.
fn gap(rate: f64, rng: &mut StreamRng) -> Duration {
    let u: f64 = rng.random();
    stampede_mock::duration::secs(-(1.0 - u).ln() / rate.max(1e-12))
}

impl TrafficSource for Sessions {
    fn peek(&mut self) -> Peek {
        self.drop_late();
        let turn = self.ready.peek().map(|Reverse((at, _))| *at);
        let start = Some(self.next_conversation()).filter(|s| *s < self.duration);
        match (turn, start) {
            (Some(a), Some(b)) => Peek::Due(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Peek::Due(a),
            (None, None) if self.busy > 0 => Peek::Wait,
            (None, None) => Peek::Done,
        }
    }

    fn take(&mut self) -> Option<PlannedRequest> {
        let Peek::Due(due) = self.peek() else {
            return None;
        };
        self.busy += 1;
        let next_turn = self.ready.peek().is_some_and(|Reverse((at, _))| *at == due);
        if next_turn {
            let Reverse((at, id)) = self.ready.pop()?;
            let mut r = self.plan(at);
            let c = self.active.get_mut(&id)?;
            (r.lane, r.model, r.stream) = (c.lane, c.model, c.stream);
            c.current = (r.input_tokens, r.output_tokens);
            r.user = id;
            r.history = Some(Arc::from(c.history.as_slice()));
            return Some(r);
        }
        let at = self.next_conversation();
        if self.next_extra == Some(at) {
            self.next_extra = self.extra.as_mut().and_then(|t| t.next()).map(|a| a.at);
        } else {
            self.next_start += gap(self.rate, &mut self.arrivals);
        }
        let id = self.conversations;
        self.conversations += 1;
        let mut r = self.plan(at);
        let turns = self.turns.sample_count(&mut self.turns_rng, 1).max(1);
        self.active.insert(
            id,
            Conversation {
                lane: r.lane,
                model: r.model,
                stream: r.stream,
                turns,
                history: Vec::new(),
                current: (r.input_tokens, r.output_tokens),
            },
        );
        r.user = id;
        r.history = Some(Arc::from(&[][..]));
        Some(r)
    }

    fn ended(&mut self, user: u32, at: Duration) {
        self.busy = self.busy.saturating_sub(1);
        let Some(c) = self.active.get_mut(&user) else {
            return;
        };
        c.history.push(c.current);
        if c.history.len() < c.turns as usize {
            let think = self.think.sample(&mut self.think_rng);
            self.ready.push(Reverse((at + think, user)));
        } else {
            self.active.remove(&user);
        }
    }
}
