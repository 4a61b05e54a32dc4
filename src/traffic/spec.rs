//! The `[traffic]` section as written, and its preparation into a [`TrafficPlan`] (its checks
//! are in `traffic/validate.rs`).
//!
//! The section is flat, as the scenario reference in the book writes it (`arrival = "poisson"`, `rate = 20`), and the same
//! table describes each entry of `phases` (plus its `duration`, and optionally its own request
//! sizes). Keys that belong to another process are refused where they stand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stampede_mock::dist::{DurationDist, NumberDist};
use toml::Spanned;

use super::mix::{sample_pairs, DuplicateSpec, LaneSpec, Mix, ModelShare, SizesFrom};
use super::trace::{TraceSpec, TraceStats};
use crate::spec_error::SpecError;

/// The highest rate a scenario may ask for, in requests per second: far above what one client
/// machine sends, low enough that a schedule always advances.
pub const MAX_RATE: f64 = stampede_mock::ranges::RATE.max;

/// A rate in requests per second: from 0 to [`MAX_RATE`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate(pub f64);

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(v: f64) -> Result<Rate, String> {
        stampede_mock::ranges::RATE.check("rate", v).map(Rate)
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.0
    }
}

/// The arrival process families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// Evenly spaced at `rate`.
    Constant,
    /// Poisson at mean `rate`.
    Poisson,
    /// Poisson with a rate rising (or falling) linearly `from` → `to` over `over`.
    Ramp,
    /// A list of processes, each for its `duration`.
    Phases,
    /// On/off bursts (Markov-modulated Poisson).
    Bursty,
    /// A daily (or any period) sinusoidal curve around `rate`.
    Diurnal,
    /// Renewal process with gamma gaps of coefficient of variation `cv`.
    Gamma,
    /// Renewal process with Weibull gaps of coefficient of variation `cv`.
    Weibull,
    /// Replay of a trace file.
    Trace,
    /// Closed loop: `users` virtual users, each waiting for its answer and `think`ing.
    Closed,
    /// Conversations: new ones at `rate` per second (Poisson), each of `turns` turns; a turn
    /// resends the whole history, and the next follows the answer after `think`.
    Sessions,
}

impl ArrivalKind {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            ArrivalKind::Constant => "constant",
            ArrivalKind::Poisson => "poisson",
            ArrivalKind::Ramp => "ramp",
            ArrivalKind::Phases => "phases",
            ArrivalKind::Bursty => "bursty",
            ArrivalKind::Diurnal => "diurnal",
            ArrivalKind::Gamma => "gamma",
            ArrivalKind::Weibull => "weibull",
            ArrivalKind::Trace => "trace",
            ArrivalKind::Closed => "closed",
            ArrivalKind::Sessions => "sessions",
        }
    }
}

/// `spikes = [{ at, length, factor }]`: N× the base process's mean rate for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpikeSpec {
    /// When the spike starts.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub at: Duration,
    /// How long it lasts.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub length: Duration,
    /// Multiple of the base mean rate during the spike (≥ 1).
    pub factor: f64,
}

/// `[traffic]`, and each entry of `phases`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// The arrival process.
    #[schemars(with = "ArrivalKind")]
    pub arrival: Spanned<ArrivalKind>,
    /// Length of a phase (only inside `phases`).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub duration: Option<Duration>,
    /// Requests per second: constant, poisson, gamma, weibull; the mean of diurnal.
    #[serde(default)]
    #[schemars(with = "Option<Rate>")]
    pub rate: Option<Spanned<Rate>>,
    /// Ramp: rate at the start.
    #[serde(default)]
    #[schemars(with = "Option<Rate>")]
    pub from: Option<Spanned<Rate>>,
    /// Ramp: rate at the end.
    #[serde(default)]
    #[schemars(with = "Option<Rate>")]
    pub to: Option<Spanned<Rate>>,
    /// Ramp: length of the ramp (default: the whole traffic window or phase).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub over: Option<Spanned<String>>,
    /// Bursty: rate between bursts.
    #[serde(default)]
    #[schemars(with = "Option<Rate>")]
    pub base_rate: Option<Spanned<Rate>>,
    /// Bursty: rate during bursts.
    #[serde(default)]
    #[schemars(with = "Option<Rate>")]
    pub burst_rate: Option<Spanned<Rate>>,
    /// Bursty: mean burst length.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub burst_length: Option<Spanned<String>>,
    /// Bursty: mean time between bursts.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub burst_gap: Option<Spanned<String>>,
    /// Diurnal: length of one cycle (a day: "24h").
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub period: Option<Spanned<String>>,
    /// Diurnal: relative swing around the mean, 0..=1 (default 0.5).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub amplitude: Option<Spanned<f64>>,
    /// Diurnal: time from the start at which the rate peaks (default half a period).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub peak_at: Option<Spanned<String>>,
    /// Gamma and weibull: coefficient of variation of the gaps (1 = as variable as Poisson).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub cv: Option<Spanned<f64>>,
    /// Phases: the processes, each with a `duration`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<TrafficSpec>>")]
    pub phases: Option<Spanned<Vec<TrafficSpec>>>,
    /// Trace replay settings.
    #[serde(default)]
    #[schemars(with = "Option<TraceSpec>")]
    pub trace: Option<Spanned<TraceSpec>>,
    /// Closed loop: number of virtual users.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub users: Option<Spanned<u32>>,
    /// Sessions: turns per conversation (a number distribution, at least 1).
    #[serde(default)]
    #[schemars(with = "Option<NumberDist>")]
    pub turns: Option<Spanned<NumberDist>>,
    /// Closed loop and sessions: think time between an answer and the next request.
    #[serde(default)]
    #[schemars(with = "Option<DurationDist>")]
    pub think: Option<Spanned<DurationDist>>,
    /// Closed loop: users start evenly over this time instead of all at once.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ramp_up: Option<Spanned<String>>,
    /// Spikes layered on the process.
    #[serde(default)]
    #[schemars(with = "Option<Vec<SpikeSpec>>")]
    pub spikes: Option<Spanned<Vec<SpikeSpec>>>,
    /// Prompt sizes in tokens.
    #[serde(default)]
    pub input_tokens: Option<NumberDist>,
    /// Answer sizes in tokens.
    #[serde(default)]
    pub output_tokens: Option<NumberDist>,
    /// (input, output) pairs sampled from a trace instead of `input_tokens`/`output_tokens`.
    #[serde(default)]
    #[schemars(with = "Option<SizesFrom>")]
    pub sizes_from: Option<Spanned<SizesFrom>>,
    /// Lanes (interactive vs batch...).
    #[serde(default)]
    #[schemars(with = "Option<Vec<LaneSpec>>")]
    pub lanes: Option<Spanned<Vec<LaneSpec>>>,
    /// Model mix (default: the target's model).
    #[serde(default)]
    #[schemars(with = "Option<Vec<ModelShare>>")]
    pub models: Option<Spanned<Vec<ModelShare>>>,
    /// Share of streamed requests.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub stream_share: Option<Spanned<f64>>,
    /// Repeated popular prompts.
    #[serde(default)]
    #[schemars(with = "Option<DuplicateSpec>")]
    pub duplicates: Option<Spanned<DuplicateSpec>>,
}

fn default_input_tokens() -> NumberDist {
    NumberDist::Lognormal {
        median: 800.0,
        p99: 6000.0,
    }
}

fn default_output_tokens() -> NumberDist {
    NumberDist::Lognormal {
        median: 300.0,
        p99: 2000.0,
    }
}

impl TrafficSpec {
    /// The arrival process.
    pub(super) fn kind(&self) -> ArrivalKind {
        *self.arrival.get_ref()
    }

    /// Whether each request waits for an earlier one's answer (a closed loop, or conversations'
    /// turns): the request rate then follows latency, and there is no open-loop timeline.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind(), ArrivalKind::Closed | ArrivalKind::Sessions)
    }
}

/// The traffic of a scenario, checked and ready to generate requests for any seed.
#[derive(Debug, Clone)]
pub struct TrafficPlan {
    /// The section as written.
    pub spec: TrafficSpec,
    /// Where files named by the section are.
    pub base_dir: PathBuf,
    /// Every model the traffic calls; the first is the default.
    pub models: Vec<String>,
    /// The lanes (at least one, `default` when none is configured).
    pub lanes: Vec<LaneSpec>,
    /// The scanned trace, for trace replay.
    pub trace: Option<(TraceSpec, PathBuf, TraceStats)>,
    pub(crate) mix: Mix,
    /// Traffic growth factor (1 = as written); see `TrafficPlan::grown`.
    pub(crate) growth: f64,
}

/// Phase request sizes in the order phases are numbered (0 = the top level), inheriting sizes
/// a phase does not set.
fn phase_sizes(spec: &TrafficSpec, inherited: (&NumberDist, &NumberDist), out: &mut Vec<(NumberDist, NumberDist)>) {
    let own = (
        spec.input_tokens.as_ref().unwrap_or(inherited.0).clone(),
        spec.output_tokens.as_ref().unwrap_or(inherited.1).clone(),
    );
    out.push(own.clone());
    if let Some(phases) = &spec.phases {
        for p in phases.get_ref() {
            phase_sizes(p, (&own.0, &own.1), out);
        }
    }
}

impl TrafficPlan {
    /// Checks the section, scans a trace once, and gathers models and lanes. `default_model`
    /// is the target's model.
    pub fn prepare(spec: &TrafficSpec, base_dir: &Path, default_model: &str) -> Result<TrafficPlan, SpecError> {
        spec.validate()?;
        let trace = match &spec.trace {
            Some(t) => {
                let path = base_dir.join(&t.get_ref().file);
                let stats = TraceStats::scan(t.get_ref(), &path).map_err(|m| SpecError::at(t.span(), m))?;
                Some((t.get_ref().clone(), path, stats))
            }
            None => None,
        };
        let mut models = vec![default_model.to_string()];
        let shares = spec.models.as_ref().map(|m| m.get_ref().clone()).unwrap_or_default();
        if !shares.is_empty() {
            models = shares.iter().map(|m| m.name.clone()).collect();
        }
        let mut lanes = spec.lanes.as_ref().map(|l| l.get_ref().clone()).unwrap_or_default();
        if let Some((tspec, _, stats)) = &trace {
            for m in &stats.models {
                let name = tspec.models.get(m).cloned().unwrap_or_else(|| m.clone());
                if !models.contains(&name) {
                    models.push(name);
                }
            }
            for l in &stats.lanes {
                if !lanes.iter().any(|x| &x.name == l) {
                    let mut lane = LaneSpec::named(l);
                    lane.share = 0.0;
                    lanes.push(lane);
                }
            }
        }
        if lanes.is_empty() {
            lanes.push(LaneSpec::named("default"));
        }
        if models.len() > 200 || lanes.len() > 64 {
            return Err(SpecError::at(spec.arrival.span(), "at most 200 models and 64 lanes"));
        }
        let pairs = match &spec.sizes_from {
            Some(s) => Some(
                sample_pairs(&base_dir.join(&s.get_ref().file), s.get_ref().format, 0)
                    .map_err(|m| SpecError::at(s.span(), m))?,
            ),
            None => None,
        };
        let mut sizes = Vec::new();
        phase_sizes(spec, (&default_input_tokens(), &default_output_tokens()), &mut sizes);
        let samplers = sizes.iter().map(|(i, o)| (i.sampler(), o.sampler())).collect();
        let mix = Mix::new(
            samplers,
            pairs,
            lanes.clone(),
            models.clone(),
            &shares,
            spec.stream_share.as_ref().map_or(0.0, |s| *s.get_ref()),
            spec.duplicates.as_ref().map(Spanned::get_ref),
            0,
        );
        Ok(TrafficPlan {
            spec: spec.clone(),
            base_dir: base_dir.to_path_buf(),
            models,
            lanes,
            trace,
            mix,
            growth: 1.0,
        })
    }
}
