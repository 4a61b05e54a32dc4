//! The `[traffic]` section as written, its checks, and its preparation into a [`TrafficPlan`].
//!
//! The section is flat, as SPEC.md writes it (`arrival = "poisson"`, `rate = 20`), and the same
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

/// A rate in requests per second: finite and not negative.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate(pub f64);

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(v: f64) -> Result<Rate, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(Rate(v))
        } else {
            Err(format!(
                "a rate must be a finite number of requests per second ≥ 0, got {v}"
            ))
        }
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.0
    }
}

/// The arrival process families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
        }
    }
}

/// `spikes = [{ at, length, factor }]`: N× the base process's mean rate for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeSpec {
    /// When the spike starts.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// How long it lasts.
    #[serde(with = "humantime_serde")]
    pub length: Duration,
    /// Multiple of the base mean rate during the spike (≥ 1).
    pub factor: f64,
}

/// `[traffic]`, and each entry of `phases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// The arrival process.
    pub arrival: Spanned<ArrivalKind>,
    /// Length of a phase (only inside `phases`).
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// Requests per second: constant, poisson, gamma, weibull; the mean of diurnal.
    #[serde(default)]
    pub rate: Option<Spanned<Rate>>,
    /// Ramp: rate at the start.
    #[serde(default)]
    pub from: Option<Spanned<Rate>>,
    /// Ramp: rate at the end.
    #[serde(default)]
    pub to: Option<Spanned<Rate>>,
    /// Ramp: length of the ramp (default: the whole traffic window or phase).
    #[serde(default)]
    pub over: Option<Spanned<String>>,
    /// Bursty: rate between bursts.
    #[serde(default)]
    pub base_rate: Option<Spanned<Rate>>,
    /// Bursty: rate during bursts.
    #[serde(default)]
    pub burst_rate: Option<Spanned<Rate>>,
    /// Bursty: mean burst length.
    #[serde(default)]
    pub burst_length: Option<Spanned<String>>,
    /// Bursty: mean time between bursts.
    #[serde(default)]
    pub burst_gap: Option<Spanned<String>>,
    /// Diurnal: length of one cycle (a day: "24h").
    #[serde(default)]
    pub period: Option<Spanned<String>>,
    /// Diurnal: relative swing around the mean, 0..=1 (default 0.5).
    #[serde(default)]
    pub amplitude: Option<Spanned<f64>>,
    /// Diurnal: time from the start at which the rate peaks (default half a period).
    #[serde(default)]
    pub peak_at: Option<Spanned<String>>,
    /// Gamma and weibull: coefficient of variation of the gaps (1 = as variable as Poisson).
    #[serde(default)]
    pub cv: Option<Spanned<f64>>,
    /// Phases: the processes, each with a `duration`.
    #[serde(default)]
    pub phases: Option<Spanned<Vec<TrafficSpec>>>,
    /// Trace replay settings.
    #[serde(default)]
    pub trace: Option<Spanned<TraceSpec>>,
    /// Closed loop: number of virtual users.
    #[serde(default)]
    pub users: Option<Spanned<u32>>,
    /// Closed loop: think time between an answer and the user's next request.
    #[serde(default)]
    pub think: Option<Spanned<DurationDist>>,
    /// Closed loop: users start evenly over this time instead of all at once.
    #[serde(default)]
    pub ramp_up: Option<Spanned<String>>,
    /// Spikes layered on the process.
    #[serde(default)]
    pub spikes: Option<Spanned<Vec<SpikeSpec>>>,
    /// Prompt sizes in tokens.
    #[serde(default)]
    pub input_tokens: Option<NumberDist>,
    /// Answer sizes in tokens.
    #[serde(default)]
    pub output_tokens: Option<NumberDist>,
    /// (input, output) pairs sampled from a trace instead of `input_tokens`/`output_tokens`.
    #[serde(default)]
    pub sizes_from: Option<Spanned<SizesFrom>>,
    /// Lanes (interactive vs batch...).
    #[serde(default)]
    pub lanes: Option<Spanned<Vec<LaneSpec>>>,
    /// Model mix (default: the target's model).
    #[serde(default)]
    pub models: Option<Spanned<Vec<ModelShare>>>,
    /// Share of streamed requests.
    #[serde(default)]
    pub stream_share: Option<Spanned<f64>>,
    /// Repeated popular prompts.
    #[serde(default)]
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

/// Parses a humantime duration written as a string key.
fn duration_of(v: &Spanned<String>, key: &str) -> Result<Duration, SpecError> {
    humantime::parse_duration(v.get_ref())
        .map_err(|e| SpecError::at(v.span(), format!("{key} must be a duration such as \"30s\": {e}")))
}

fn positive(v: &Spanned<String>, key: &str) -> Result<Duration, SpecError> {
    let d = duration_of(v, key)?;
    if d.is_zero() {
        return Err(SpecError::at(v.span(), format!("{key} must be above zero")));
    }
    Ok(d)
}

/// `v >= min`, false for NaN.
fn at_least(v: f64, min: f64) -> bool {
    v >= min
}

/// `v > min`, false for NaN.
fn above(v: f64, min: f64) -> bool {
    v > min
}

fn share(v: &Spanned<f64>, key: &str) -> Result<f64, SpecError> {
    let x = *v.get_ref();
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(SpecError::at(
            v.span(),
            format!("{key} is a share between 0 and 1, got {x}"),
        ))
    }
}

impl TrafficSpec {
    fn kind(&self) -> ArrivalKind {
        *self.arrival.get_ref()
    }

    fn need<'a, T>(&self, v: &'a Option<Spanned<T>>, key: &str, what: &str) -> Result<&'a Spanned<T>, SpecError> {
        v.as_ref().ok_or_else(|| {
            SpecError::at(
                self.arrival.span(),
                format!("arrival = \"{}\" needs `{key}` ({what})", self.kind().name()),
            )
        })
    }

    /// Every process-specific key given: (name, span, the processes it belongs to).
    fn process_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>, &'static [ArrivalKind])> {
        use ArrivalKind::*;
        let mut keys = Vec::new();
        let mut add = |name: &'static str, span: Option<std::ops::Range<usize>>, kinds: &'static [ArrivalKind]| {
            if let Some(s) = span {
                keys.push((name, s, kinds));
            }
        };
        add(
            "rate",
            self.rate.as_ref().map(Spanned::span),
            &[Constant, Poisson, Diurnal, Gamma, Weibull],
        );
        add("from", self.from.as_ref().map(Spanned::span), &[Ramp]);
        add("to", self.to.as_ref().map(Spanned::span), &[Ramp]);
        add("over", self.over.as_ref().map(Spanned::span), &[Ramp]);
        add("base_rate", self.base_rate.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_rate", self.burst_rate.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_length", self.burst_length.as_ref().map(Spanned::span), &[Bursty]);
        add("burst_gap", self.burst_gap.as_ref().map(Spanned::span), &[Bursty]);
        add("period", self.period.as_ref().map(Spanned::span), &[Diurnal]);
        add("amplitude", self.amplitude.as_ref().map(Spanned::span), &[Diurnal]);
        add("peak_at", self.peak_at.as_ref().map(Spanned::span), &[Diurnal]);
        add("cv", self.cv.as_ref().map(Spanned::span), &[Gamma, Weibull]);
        add("phases", self.phases.as_ref().map(Spanned::span), &[Phases]);
        add("trace", self.trace.as_ref().map(Spanned::span), &[Trace]);
        add("users", self.users.as_ref().map(Spanned::span), &[Closed]);
        add("think", self.think.as_ref().map(Spanned::span), &[Closed]);
        add("ramp_up", self.ramp_up.as_ref().map(Spanned::span), &[Closed]);
        keys
    }

    /// Keys only the top level of `[traffic]` takes: (name, span).
    fn top_level_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        [
            ("spikes", self.spikes.as_ref().map(Spanned::span)),
            ("sizes_from", self.sizes_from.as_ref().map(Spanned::span)),
            ("lanes", self.lanes.as_ref().map(Spanned::span)),
            ("models", self.models.as_ref().map(Spanned::span)),
            ("stream_share", self.stream_share.as_ref().map(Spanned::span)),
            ("duplicates", self.duplicates.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
    }

    /// Checks the section (and its phases): each process has the keys it needs and no keys
    /// of another, values are in range.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_at(true)
    }

    fn validate_at(&self, top: bool) -> Result<(), SpecError> {
        let kind = self.kind();
        for (name, span, kinds) in self.process_keys() {
            if !kinds.contains(&kind) {
                let owners: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
                return Err(SpecError::at(
                    span,
                    format!(
                        "`{name}` does not apply to arrival = \"{}\" (it belongs to {})",
                        kind.name(),
                        owners.join(", ")
                    ),
                ));
            }
        }
        if top {
            if self.duration.is_some() {
                return Err(SpecError::at(
                    self.arrival.span(),
                    "`duration` belongs to phases; the traffic window is the scenario's `duration`",
                ));
            }
        } else {
            if let Some((name, span)) = self.top_level_keys().into_iter().next() {
                return Err(SpecError::at(
                    span,
                    format!("`{name}` applies to the whole [traffic] section, not to one phase"),
                ));
            }
            if matches!(kind, ArrivalKind::Trace | ArrivalKind::Closed) {
                return Err(SpecError::at(
                    self.arrival.span(),
                    format!("arrival = \"{}\" cannot be a phase", kind.name()),
                ));
            }
            match self.duration {
                None => return Err(SpecError::at(self.arrival.span(), "each phase needs a `duration`")),
                Some(d) if d.is_zero() => {
                    return Err(SpecError::at(
                        self.arrival.span(),
                        "a phase's duration must be above zero",
                    ))
                }
                _ => {}
            }
        }
        match kind {
            ArrivalKind::Constant | ArrivalKind::Poisson => {
                self.need(&self.rate, "rate", "requests per second")?;
            }
            ArrivalKind::Ramp => {
                self.need(&self.from, "from", "the starting rate")?;
                self.need(&self.to, "to", "the final rate")?;
                if let Some(o) = &self.over {
                    positive(o, "over")?;
                }
            }
            ArrivalKind::Bursty => {
                self.need(&self.base_rate, "base_rate", "the rate between bursts")?;
                self.need(&self.burst_rate, "burst_rate", "the rate during bursts")?;
                positive(
                    self.need(&self.burst_length, "burst_length", "the mean burst length")?,
                    "burst_length",
                )?;
                positive(
                    self.need(&self.burst_gap, "burst_gap", "the mean time between bursts")?,
                    "burst_gap",
                )?;
            }
            ArrivalKind::Diurnal => {
                self.need(&self.rate, "rate", "the mean rate")?;
                positive(
                    self.need(&self.period, "period", "the length of a cycle, such as \"24h\"")?,
                    "period",
                )?;
                if let Some(a) = &self.amplitude {
                    share(a, "amplitude")?;
                }
                if let Some(p) = &self.peak_at {
                    duration_of(p, "peak_at")?;
                }
            }
            ArrivalKind::Gamma | ArrivalKind::Weibull => {
                self.need(&self.rate, "rate", "requests per second")?;
                let cv = self.need(&self.cv, "cv", "the coefficient of variation of the gaps")?;
                let max = if kind == ArrivalKind::Weibull { 400.0 } else { 1e6 };
                if !(*cv.get_ref() > 0.0 && *cv.get_ref() <= max) {
                    return Err(SpecError::at(
                        cv.span(),
                        format!("cv must be above 0 and at most {max}, got {}", cv.get_ref()),
                    ));
                }
            }
            ArrivalKind::Phases => {
                let phases = self.need(&self.phases, "phases", "a list of processes with durations")?;
                if phases.get_ref().is_empty() {
                    return Err(SpecError::at(phases.span(), "phases must list at least one phase"));
                }
                for p in phases.get_ref() {
                    p.validate_at(false)?;
                }
            }
            ArrivalKind::Trace => {
                let t = self.need(&self.trace, "trace", "[traffic.trace] with file and format")?;
                t.get_ref().validate().map_err(|m| SpecError::at(t.span(), m))?;
            }
            ArrivalKind::Closed => {
                let users = self.need(&self.users, "users", "the number of virtual users")?;
                if *users.get_ref() == 0 {
                    return Err(SpecError::at(users.span(), "users must be at least 1"));
                }
                if let Some(r) = &self.ramp_up {
                    duration_of(r, "ramp_up")?;
                }
            }
        }
        if let Some(spikes) = &self.spikes {
            for s in spikes.get_ref() {
                if !at_least(s.factor, 1.0) || s.length.is_zero() {
                    return Err(SpecError::at(
                        spikes.span(),
                        "a spike needs factor ≥ 1 and a length above zero",
                    ));
                }
            }
            if kind == ArrivalKind::Closed {
                return Err(SpecError::at(spikes.span(), "spikes do not apply to a closed loop"));
            }
        }
        if let (Some(s), true) = (
            &self.sizes_from,
            self.input_tokens.is_some() || self.output_tokens.is_some(),
        ) {
            return Err(SpecError::at(
                s.span(),
                "sizes_from replaces input_tokens and output_tokens; give one or the other",
            ));
        }
        if let Some(s) = &self.stream_share {
            share(s, "stream_share")?;
        }
        if let Some(d) = &self.duplicates {
            let v = d.get_ref();
            if !(0.0..=1.0).contains(&v.share) || v.keys == 0 || !at_least(v.zipf, 0.0) {
                return Err(SpecError::at(
                    d.span(),
                    "duplicates needs share in 0..=1, keys ≥ 1 and zipf ≥ 0",
                ));
            }
        }
        if let Some(lanes) = &self.lanes {
            let l = lanes.get_ref();
            let mut names: Vec<&str> = l.iter().map(|x| x.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let bad = l.is_empty()
                || names.len() != l.len()
                || l.iter()
                    .any(|x| x.name.is_empty() || !at_least(x.share, 0.0) || !above(x.weight, 0.0))
                || l.iter().map(|x| x.share).sum::<f64>() <= 0.0
                || l.iter()
                    .any(|x| x.stream_share.is_some_and(|s| !(0.0..=1.0).contains(&s)))
                || l.len() > 64;
            if bad {
                return Err(SpecError::at(
                    lanes.span(),
                    "lanes need unique non-empty names, shares ≥ 0 adding up to more than 0, weights above 0, stream_share in 0..=1 (at most 64 lanes)",
                ));
            }
        }
        if let Some(models) = &self.models {
            let m = models.get_ref();
            if m.is_empty()
                || m.iter().any(|x| x.name.is_empty() || !at_least(x.share, 0.0))
                || m.iter().map(|x| x.share).sum::<f64>() <= 0.0
                || m.len() > 200
            {
                return Err(SpecError::at(
                    models.span(),
                    "models need names and shares ≥ 0 adding up to more than 0",
                ));
            }
        }
        Ok(())
    }

    /// Whether the traffic is a closed loop.
    pub fn is_closed(&self) -> bool {
        self.kind() == ArrivalKind::Closed
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
