//! Traffic: the planned requests of a run, from the `[traffic]` section and the seed.
//!
//! Traffic knows nothing of strategies, backends or the engine, and reads no clock. An open-loop
//! source ([`Traffic`]) yields [`PlannedRequest`]s in order of due time from an arrival process
//! or a trace; a closed-loop source ([`closed::ClosedLoop`]) learns when each request ended and
//! sends that user's next one after a think time. Arrival times, the mix and request sizes come
//! from separate random streams, so every strategy compared on one seed sees the same requests.
//!
//! Modules: [`arrival`] (constant, poisson, ramp, diurnal), [`bursty`], [`renewal`] (gamma,
//! weibull), [`timeline`] (phases, spikes, composition), [`trace`] (replay), [`mix`] (sizes,
//! lanes, models, streaming, duplicates), [`closed`], [`spec`] (the section and its checks),
//! [`preview`] (`stampede traffic`).

pub mod arrival;
pub mod bursty;
pub mod closed;
pub mod mix;
pub mod preview;
pub mod renewal;
pub mod sessions;
pub mod spec;
pub mod timeline;
pub mod trace;
mod validate;

use std::time::Duration;

use stampede_mock::rng::{stream_rng, StreamRng};

use arrival::{ArrivalProcess, Constant, Diurnal, Poisson, Ramp, Thinned};
use mix::Mix;
pub use spec::{ArrivalKind, TrafficPlan, TrafficSpec};
use timeline::{Merge, PhaseBuilder, Phases, ProcessTimeline, SpikeTimeline, Timeline};

/// One request the traffic wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Sequence number, from 0.
    pub id: u64,
    /// Intended start, as an offset from the start of the run.
    pub at: Duration,
    /// Prompt size in tokens.
    pub input_tokens: u32,
    /// Wanted answer size in tokens.
    pub output_tokens: u32,
    /// Lane index.
    pub lane: u8,
    /// Model index into the run's model list.
    pub model: u8,
    /// Prompt identity: equal keys mean identical prompts (cache and dedup find them).
    pub prompt_key: u64,
    /// Whether the answer is streamed.
    pub stream: bool,
    /// The virtual user who sent it (closed loop), or its conversation (sessions); 0 otherwise.
    pub user: u32,
    /// A conversation's earlier turns, (message, answer) tokens each, resent before this turn's
    /// message (`input_tokens`); `None` outside conversations.
    pub history: Option<std::sync::Arc<[(u32, u32)]>>,
    /// Shared prompt prefixes of a replayed trace: (block key, tokens to the block's end).
    pub prefix: Option<trace::Prefix>,
}

impl PlannedRequest {
    /// The prompt's tokens: the conversation's history and this message.
    pub fn prompt_tokens(&self) -> u32 {
        let history: u32 = self.history.iter().flat_map(|h| h.iter()).map(|(m, a)| m + a).sum();
        history + self.input_tokens
    }

    /// The turn number in its conversation (1 for the first; 0 outside conversations).
    pub fn turn(&self) -> u16 {
        self.history.as_ref().map_or(0, |h| h.len() as u16 + 1)
    }
}

/// What a source knows about its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// The next request is due at this offset from the start.
    Due(Duration),
    /// Nothing is due until a request in flight ends (closed loop).
    Wait,
    /// No more requests.
    Done,
}

/// Where the engine takes its requests from.
pub trait TrafficSource: Send {
    /// When the next request is due.
    fn peek(&mut self) -> Peek;
    /// Takes the next request (the one [`peek`](Self::peek) announced).
    fn take(&mut self) -> Option<PlannedRequest>;
    /// A request of `user` ended at `at` (offset from the start).
    fn ended(&mut self, _user: u32, _at: Duration) {}
}

/// Another source cut off after `limit` requests (`max_requests`).
pub struct Limited {
    inner: Box<dyn TrafficSource>,
    left: u64,
}

impl Limited {
    /// At most `limit` requests of `inner`.
    pub fn new(inner: Box<dyn TrafficSource>, limit: u64) -> Limited {
        Limited { inner, left: limit }
    }
}

impl TrafficSource for Limited {
    fn peek(&mut self) -> Peek {
        if self.left == 0 {
            Peek::Done
        } else {
            self.inner.peek()
        }
    }
    fn take(&mut self) -> Option<PlannedRequest> {
        if self.left == 0 {
            return None;
        }
        let r = self.inner.take()?;
        self.left -= 1;
        Some(r)
    }
    fn ended(&mut self, user: u32, at: Duration) {
        self.inner.ended(user, at);
    }
}

/// A fixed list of planned requests, in order of due time (tests, precomputed plans).
#[derive(Debug, Clone, Default)]
pub struct Fixed(std::collections::VecDeque<PlannedRequest>);

impl Fixed {
    /// The requests, which must be in order of `at`.
    pub fn new(requests: impl IntoIterator<Item = PlannedRequest>) -> Fixed {
        Fixed(requests.into_iter().collect())
    }
}

impl TrafficSource for Fixed {
    fn peek(&mut self) -> Peek {
        self.0.front().map_or(Peek::Done, |r| Peek::Due(r.at))
    }

    fn take(&mut self) -> Option<PlannedRequest> {
        self.0.pop_front()
    }
}

/// The most arrivals a day's shape is counted over (about 230 per second all day).
pub const DAY_SHAPE_MAX: u64 = 20_000_000;

/// Open-loop traffic: every request has its time before the run starts.
pub struct Traffic {
    timeline: Box<dyn Timeline>,
    mix: Mix,
    mix_rng: StreamRng,
    sizes_rng: StreamRng,
    duration: Duration,
    count: u64,
    head: Option<PlannedRequest>,
}

impl Traffic {
    /// The long-run mean rate of the arrivals (requests per second).
    pub fn mean_rate(&self) -> f64 {
        self.timeline.mean_rate()
    }
}

impl Iterator for Traffic {
    type Item = PlannedRequest;

    fn next(&mut self) -> Option<PlannedRequest> {
        if let Some(h) = self.head.take() {
            return Some(h);
        }
        let arrival = self.timeline.next()?;
        if arrival.at >= self.duration {
            return None;
        }
        let id = self.count;
        self.count += 1;
        Some(self.mix.plan(arrival, id, &mut self.mix_rng, &mut self.sizes_rng))
    }
}

impl TrafficSource for Traffic {
    fn peek(&mut self) -> Peek {
        if self.head.is_none() {
            self.head = self.next();
        }
        self.head.as_ref().map_or(Peek::Done, |h| Peek::Due(h.at))
    }

    fn take(&mut self) -> Option<PlannedRequest> {
        self.next()
    }
}

/// Arrivals of `t` before `day` and before `window` (`None` past [`DAY_SHAPE_MAX`]).
fn count_arrivals(t: &mut dyn Timeline, day: Duration, window: Duration) -> Option<(f64, f64)> {
    let (mut in_day, mut in_window) = (0u64, 0u64);
    while let Some(a) = t.next().filter(|a| a.at < day) {
        in_day += 1;
        if in_day > DAY_SHAPE_MAX {
            return None;
        }
        in_window += u64::from(a.at < window);
    }
    Some((in_day as f64, in_window as f64))
}

fn secs(v: &Option<toml::Spanned<String>>) -> Option<Duration> {
    v.as_ref().and_then(|s| humantime::parse_duration(s.get_ref()).ok())
}

fn rate(v: &Option<toml::Spanned<spec::Rate>>) -> f64 {
    v.as_ref().map_or(0.0, |r| r.get_ref().0)
}

/// Number of phase indexes a spec takes (itself and its phases, depth first).
fn phase_count(spec: &TrafficSpec) -> u16 {
    1 + spec
        .phases
        .as_ref()
        .map_or(0, |p| p.get_ref().iter().map(phase_count).sum())
}

/// The arrival process of a non-composite spec; `span` is the window it plays in.
fn process(spec: &TrafficSpec, span: Duration) -> Box<dyn ArrivalProcess> {
    let cv = spec.cv.as_ref().map_or(1.0, |c| *c.get_ref());
    match *spec.arrival.get_ref() {
        ArrivalKind::Constant => Box::new(Constant::new(rate(&spec.rate))),
        ArrivalKind::Ramp => Box::new(Thinned::new(Ramp {
            from: rate(&spec.from),
            to: rate(&spec.to),
            over: secs(&spec.over).unwrap_or(span).as_secs_f64(),
        })),
        ArrivalKind::Bursty => Box::new(bursty::Bursty::new(
            rate(&spec.base_rate),
            rate(&spec.burst_rate),
            secs(&spec.burst_length).map_or(1.0, |d| d.as_secs_f64()),
            secs(&spec.burst_gap).map_or(1.0, |d| d.as_secs_f64()),
        )),
        ArrivalKind::Diurnal => {
            let period = secs(&spec.period).map_or(86_400.0, |d| d.as_secs_f64());
            Box::new(Thinned::new(Diurnal {
                mean: rate(&spec.rate),
                amplitude: spec.amplitude.as_ref().map_or(0.5, |a| *a.get_ref()),
                period,
                peak_at: secs(&spec.peak_at).map_or(period / 2.0, |d| d.as_secs_f64()),
            }))
        }
        ArrivalKind::Gamma => Box::new(renewal::Renewal::gamma(rate(&spec.rate), cv)),
        ArrivalKind::Weibull => Box::new(renewal::Renewal::weibull(rate(&spec.rate), cv)),
        ArrivalKind::Poisson
        | ArrivalKind::Phases
        | ArrivalKind::Trace
        | ArrivalKind::Closed
        | ArrivalKind::Sessions => Box::new(Poisson::new(rate(&spec.rate))),
    }
}

/// The timeline of `spec` between `offset` and `until`; its phase index is `phase`.
fn build(spec: &TrafficSpec, seed: u64, offset: Duration, until: Option<Duration>, phase: u16) -> Box<dyn Timeline> {
    let span = until.map_or(Duration::from_secs(86_400 * 365), |u| u - offset);
    match (*spec.arrival.get_ref(), &spec.phases) {
        (ArrivalKind::Phases, Some(phases)) => {
            let phases = phases.get_ref();
            let mut next_index = phase + 1;
            let mut lengths = Vec::new();
            let mut builders: Vec<PhaseBuilder> = Vec::new();
            let mut rates = Vec::new();
            for p in phases {
                let index = next_index;
                next_index += phase_count(p);
                let p = p.clone();
                lengths.push(p.duration.unwrap_or_default());
                rates.push(build(&p, seed, Duration::ZERO, p.duration, index).mean_rate());
                builders.push(Box::new(move |from, to| build(&p, seed, from, Some(to), index)));
            }
            Box::new(Phases::new(lengths, builders, rates))
        }
        _ => {
            let stream = stream_rng(seed, &format!("arrivals/{phase}"));
            Box::new(ProcessTimeline::new(process(spec, span), stream, offset, until, phase))
        }
    }
}

impl TrafficPlan {
    /// The same traffic grown `factor` times (0.5 halves it): the arrivals of `factor`
    /// independent populations with the same habits — whole copies drawn with their own seeds,
    /// plus one copy thinned to the fraction; for sessions, `factor` times the new
    /// conversations a second. Request sizes and the mix are unchanged.
    pub fn grown(&self, factor: f64) -> TrafficPlan {
        let mut plan = self.clone();
        plan.growth *= factor;
        plan
    }

    /// The same requests (mix, sizes, lanes) arriving as a steady Poisson stream at `rate` per
    /// second: the busiest stretch of the traffic, sustained. A trace replay, whose sizes come
    /// from its rows, is grown to that mean rate instead; sessions, whose turns follow answers,
    /// to that many new conversations a second.
    pub fn steady(&self, rate: f64) -> TrafficPlan {
        if self.trace.is_some() || self.spec.is_closed() {
            // Sessions: new conversations at `rate`, so that a short stretch (first turns,
            // before any think time ends) arrives at about `rate` requests a second.
            let mean = self.conversation_starts().or(self.request_rate()).unwrap_or(0.0);
            return if mean > 0.0 {
                self.grown(rate / mean)
            } else {
                self.clone()
            };
        }
        let mut plan = self.clone();
        plan.growth = 1.0;
        plan.spec.arrival = toml::Spanned::new(0..0, spec::ArrivalKind::Poisson);
        plan.spec.rate = Some(toml::Spanned::new(0..0, spec::Rate(rate)));
        plan.spec.phases = None;
        plan.spec.spikes = None;
        plan
    }

    /// The arrival timeline for a seed, grown by [`TrafficPlan::grown`]'s factor.
    fn timeline(&self, seed: u64) -> Box<dyn Timeline> {
        if self.growth == 1.0 {
            return self.population(seed);
        }
        let whole = self.growth.floor() as u64;
        let fraction = self.growth - whole as f64;
        // Copy 0 keeps the seed: growth 1.5 is the 1× traffic plus half of another population.
        let copy = |i: u64| self.population(seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let mut timelines: Vec<Box<dyn Timeline>> = (0..whole).map(copy).collect();
        if fraction > 1e-9 {
            timelines.push(Box::new(timeline::Sampled::new(
                copy(whole),
                fraction,
                stream_rng(seed, "growth/sample"),
            )));
        }
        timelines
            .into_iter()
            .reduce(|a, b| Box::new(Merge::new(a, b)))
            .expect("growth is positive")
    }

    /// The arrival timeline of one population: the process or trace, with spikes layered on.
    fn population(&self, seed: u64) -> Box<dyn Timeline> {
        let mut t: Box<dyn Timeline> = match &self.trace {
            Some((spec, path, stats)) => Box::new(trace::TraceTimeline::new(
                spec.clone(),
                path.clone(),
                stats.clone(),
                stream_rng(seed, "trace"),
            )),
            None => build(&self.spec, seed, Duration::ZERO, None, 0),
        };
        if let Some(spikes) = self.spikes(seed, t.mean_rate()) {
            t = Box::new(Merge::new(t, spikes));
        }
        t
    }

    /// The extra arrivals of the scenario's spikes over a base of `rate` per second (`None`
    /// without spikes): each spike adds `(factor - 1) × rate` for its length.
    fn spikes(&self, seed: u64, rate: f64) -> Option<Box<dyn Timeline>> {
        let spikes = self.spec.spikes.as_ref()?;
        let mut all: Option<Box<dyn Timeline>> = None;
        for (i, s) in spikes.get_ref().iter().enumerate() {
            let extra = (s.factor - 1.0) * rate;
            let spike: Box<dyn Timeline> = Box::new(SpikeTimeline::new(
                extra,
                s.at,
                s.at + s.length,
                stream_rng(seed, &format!("spike/{i}")),
            ));
            all = Some(match all {
                None => spike,
                Some(t) => Box::new(Merge::new(t, spike)),
            });
        }
        all
    }

    /// Open-loop traffic for a seed over `duration` (`None` for a closed loop).
    pub fn open_loop(&self, seed: u64, duration: Duration) -> Option<Traffic> {
        if self.spec.is_closed() {
            return None;
        }
        Some(Traffic {
            timeline: self.timeline(seed),
            mix: self.mix.with_seed(seed),
            mix_rng: stream_rng(seed, "mix"),
            sizes_rng: stream_rng(seed, "sizes"),
            duration,
            count: 0,
            head: None,
        })
    }

    /// The request source for a seed over `duration`.
    pub fn source(&self, seed: u64, duration: Duration) -> Box<dyn TrafficSource> {
        match self.open_loop(seed, duration) {
            Some(t) => Box::new(t),
            None if self.spec.kind() == spec::ArrivalKind::Sessions => {
                let (rate, starts) = match self.conversation_phases() {
                    // Phases: every new conversation comes from them (grown, spikes on top).
                    Some(phases) => (0.0, Some(phases.timeline(seed))),
                    None => (self.conversation_rate(), self.spikes(seed, self.conversation_rate())),
                };
                Box::new(sessions::Sessions::new(
                    &self.spec,
                    rate,
                    self.mix.with_seed(seed),
                    seed,
                    duration,
                    starts,
                ))
            }
            None => Box::new(closed::ClosedLoop::new(
                &self.spec,
                self.mix.with_seed(seed),
                seed,
                duration,
            )),
        }
    }

    /// A day of this traffic against its first `window`: arrivals per second over the first
    /// 24 h over those in the window, in the seed's realisation (for sessions, conversation
    /// starts: the base rate and the spikes). What carries a short window of a day-long
    /// scenario over to its day: a lunch hour is not the day. `None` for a closed loop, a
    /// window of a day or more, nothing arriving in the window, or a day of more than
    /// [`DAY_SHAPE_MAX`] arrivals (not counted: the window's rate is carried over instead).
    pub fn day_over_window(&self, seed: u64, window: Duration) -> Option<f64> {
        const DAY: Duration = Duration::from_secs(86_400);
        if window >= DAY || window.is_zero() {
            return None;
        }
        let day_s = DAY.as_secs_f64();
        let (in_day, in_window) = if let Some(phases) = self.conversation_phases() {
            let mut starts = phases.timeline(seed);
            if starts.mean_rate() * day_s > DAY_SHAPE_MAX as f64 {
                return None;
            }
            count_arrivals(starts.as_mut(), DAY, window)?
        } else if self.spec.kind() == spec::ArrivalKind::Sessions {
            let rate = self.conversation_rate();
            let (d, w) = match self.spikes(seed, rate) {
                Some(mut spikes) => count_arrivals(spikes.as_mut(), DAY, window)?,
                None => (0.0, 0.0),
            };
            (d + rate * day_s, w + rate * window.as_secs_f64())
        } else if !self.spec.is_closed() && self.mean_rate()? * day_s <= DAY_SHAPE_MAX as f64 {
            count_arrivals(self.timeline(seed).as_mut(), DAY, window)?
        } else {
            return None;
        };
        (in_window > 0.0).then(|| (in_day / day_s) / (in_window / window.as_secs_f64()))
    }

    /// Sessions whose new conversations follow phases: the phases as an open-loop plan of
    /// conversation starts (with the growth and the spikes), else `None`.
    fn conversation_phases(&self) -> Option<TrafficPlan> {
        if self.spec.kind() != spec::ArrivalKind::Sessions || self.spec.phases.is_none() {
            return None;
        }
        let mut plan = self.clone();
        plan.spec.arrival = toml::Spanned::new(0..0, spec::ArrivalKind::Phases);
        Some(plan)
    }

    /// Sessions traffic: new conversations a second on average, grown (from `rate` or its
    /// phases); `None` for other traffic.
    pub fn conversation_starts(&self) -> Option<f64> {
        if self.spec.kind() != spec::ArrivalKind::Sessions {
            return None;
        }
        Some(match self.conversation_phases() {
            Some(phases) => phases.timeline(0).mean_rate(),
            None => self.conversation_rate(),
        })
    }

    /// New conversations a second of sessions traffic, grown (the spec's `rate` times the
    /// growth factor).
    fn conversation_rate(&self) -> f64 {
        self.spec.rate.as_ref().map_or(1.0, |r| r.get_ref().0) * self.growth
    }

    /// The long-run rate of requests a second: the arrivals' mean rate for open-loop traffic;
    /// for sessions, new conversations a second times their mean turns (spikes left out);
    /// `None` for a closed loop, whose rate follows its latency.
    pub fn request_rate(&self) -> Option<f64> {
        if let Some(starts) = self.conversation_starts() {
            let turns = self.spec.turns.as_ref().map_or(1.0, |t| t.get_ref().mean().max(1.0));
            return Some(starts * turns);
        }
        self.mean_rate()
    }

    /// Whether the arrivals follow a daily cycle (`arrival = "diurnal"`): a day is defined
    /// whatever the window.
    pub fn is_daily_cycle(&self) -> bool {
        self.spec.kind() == spec::ArrivalKind::Diurnal
    }

    /// Long-run mean arrival rate (`None` for a closed loop, whose rate depends on latency).
    pub fn mean_rate(&self) -> Option<f64> {
        (!self.spec.is_closed()).then(|| self.timeline(0).mean_rate())
    }

    /// Lane names, by index.
    pub fn lane_names(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests;
