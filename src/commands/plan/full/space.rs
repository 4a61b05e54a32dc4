//! The calling plans the full search tries: each setting's values (from `[plan]`, or stampede's
//! defaults read from the scenario and the pilot run), and their combinations laid over the
//! scenario's `[strategy]`, named by what they change.

use std::time::Duration;

use serde::Serialize;

use crate::scenario::plan::{BudgetChoice, PlanSpec, QueueChoice, RateChoice, RetryShape, TimeoutChoice};
use crate::scenario::slo::Objective;
use crate::scenario::{Candidate, LoadedScenario};
use crate::strategy::budget::BudgetSpec;
use crate::strategy::fallback::FallbackSpec;
use crate::strategy::retry::RetrySpec;
use crate::strategy::StrategySpec;
use crate::summary::Summary;

/// One setting searched and the values tried, as text.
#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    /// The scenario key (`retry`, `retry.max_attempts`, `retry.budget`, `rate_limit`, `queue`,
    /// `timeout.attempt`, `fallback`, `service_tier`, `replicas`).
    pub setting: String,
    /// The values tried.
    pub values: Vec<String>,
    /// Where the values came from (`[plan]`, or how the default was made).
    pub source: String,
}

/// A combination to screen: a candidate whose name says what it sets.
#[derive(Debug, Clone)]
pub struct Combination {
    /// Its calling plan (workers still to size).
    pub candidate: Candidate,
}

/// The space: the settings searched and every distinct combination of their values.
#[derive(Debug, Clone)]
pub struct Space {
    /// The settings searched.
    pub dimensions: Vec<Dimension>,
    /// Settings held as configured, each with why.
    pub not_searched: Vec<String>,
    /// The combinations (duplicates dropped: two value lists that make the same plan run once).
    pub combinations: Vec<Combination>,
}

/// What the defaults are read from.
pub struct Inputs<'a> {
    /// The scenario.
    pub loaded: &'a LoadedScenario,
    /// Its candidates as written (their retries are the "as-configured" shapes).
    pub candidates: &'a [Candidate],
    /// The pilot run at the scenario's own settings.
    pub pilot: &'a Summary,
    /// When the plan will be handed over as SDK code: the preset mirroring that SDK's retry,
    /// the only retry shape (besides none) searched by default.
    pub sdk_retry: Option<&'a str>,
}

/// A retry choice with its label.
struct RetryChoice {
    label: String,
    /// `None`: each candidate's own.
    spec: Option<RetrySpec>,
}

/// Builds the space.
pub fn build(inputs: &Inputs<'_>) -> Result<Space, String> {
    let spec = inputs
        .loaded
        .scenario
        .plan
        .as_ref()
        .map(|p| p.get_ref().clone())
        .unwrap_or_default();
    let base = inputs.loaded.scenario.strategy.get_ref().clone();
    let mut dimensions = Vec::new();
    let mut not_searched = Vec::new();

    let retries = retry_choices(&spec, inputs, &mut dimensions)?;
    let rates = rate_choices(&spec, inputs, &mut dimensions, &mut not_searched);
    let queues = queue_choices(&spec, inputs, &mut dimensions, &mut not_searched);
    let timeouts = timeout_choices(&spec, inputs, &mut dimensions);
    let fallbacks = fallback_choices(&spec, inputs, &mut dimensions, &mut not_searched);
    let tiers = tier_choices(&spec, &mut dimensions, &mut not_searched);
    let replicas = replica_choices(&spec, &base, &mut dimensions, &mut not_searched);

    // Each candidate as written is a base: its own scheduler, lanes' reserves, breaker, cache
    // and the rest stay; the searched settings are laid over it ("own" keeps its value).
    let lanes = inputs.loaded.traffic.lane_names();
    let several = inputs.candidates.len() > 1;
    let mut combinations: Vec<Combination> = Vec::new();
    for cand in inputs.candidates {
        for r in &retries {
            let retry = r.spec.clone().unwrap_or_else(|| cand.strategy.retry.clone());
            for (rate_label, rate) in &rates {
                for (queue_label, queue) in &queues {
                    for (timeout_label, timeout) in &timeouts {
                        for (fallback_label, fallback) in &fallbacks {
                            for (tier_label, tier) in &tiers {
                                for &n in &replicas {
                                    let mut s = cand.strategy.clone();
                                    s.name = None;
                                    s.retry = retry.clone();
                                    if let Some(rate) = rate {
                                        s.rate_limit = rate.clone();
                                    }
                                    if let Some((capacity, deadline)) = queue {
                                        if let Some(c) = capacity {
                                            s.queue.capacity = *c;
                                        }
                                        s.queue.deadline = Some(*deadline);
                                    }
                                    if let Some(t) = timeout {
                                        s.timeout.attempt = *t;
                                    }
                                    if let Some(f) = fallback {
                                        s.fallback = f.clone();
                                    }
                                    if let Some(t) = tier {
                                        s.service_tier = lanes.iter().map(|l| (l.clone(), *t)).collect();
                                    }
                                    s.replicas = n;
                                    if combinations.iter().any(|c| c.candidate.strategy == s) {
                                        continue;
                                    }
                                    let mut parts = Vec::new();
                                    if several {
                                        parts.push(cand.name.clone());
                                    }
                                    parts.push(r.label.clone());
                                    parts.extend(
                                        [rate_label, queue_label, timeout_label, fallback_label, tier_label]
                                            .into_iter()
                                            .filter(|l| !l.is_empty())
                                            .cloned(),
                                    );
                                    if replicas.len() > 1 {
                                        parts.push(format!("×{n} replicas"));
                                    }
                                    combinations.push(Combination {
                                        candidate: Candidate {
                                            name: parts.join(" · "),
                                            strategy: s,
                                        },
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(Space {
        dimensions,
        not_searched,
        combinations,
    })
}

/// The retry shapes × attempts × budgets.
fn retry_choices(spec: &PlanSpec, inputs: &Inputs<'_>, dims: &mut Vec<Dimension>) -> Result<Vec<RetryChoice>, String> {
    let (shapes, source) = match spec.retry_shapes()? {
        Some(s) => (s, "[plan] retry".to_string()),
        None => match inputs.sdk_retry {
            Some(p) => (
                vec![RetryShape::None, RetryShape::Preset(p.to_string())],
                format!("none, and {p}: the retry the emitted SDK code can express"),
            ),
            None => (
                vec![
                    RetryShape::AsConfigured,
                    RetryShape::None,
                    RetryShape::Preset("exponential-full-jitter".into()),
                ],
                "each candidate's own, none, and exponential backoff with full jitter (default)".to_string(),
            ),
        },
    };
    let attempts = spec.attempts.clone().unwrap_or_else(|| vec![3, 5]);
    let budgets = spec
        .budgets()?
        .unwrap_or_else(|| vec![BudgetChoice::Off, BudgetChoice::Percent]);
    let mut out: Vec<RetryChoice> = Vec::new();
    let mut push = |c: RetryChoice| {
        if !out.iter().any(|o| o.spec.is_some() && o.spec == c.spec) {
            out.push(c);
        }
    };
    for shape in &shapes {
        match shape {
            RetryShape::None => push(RetryChoice {
                label: "no retry".into(),
                spec: Some(RetrySpec {
                    policy: crate::strategy::retry::BackoffPolicy::None,
                    max_attempts: 1,
                    ..RetrySpec::default()
                }),
            }),
            RetryShape::AsConfigured => push(RetryChoice {
                label: "own retry".into(),
                spec: None,
            }),
            RetryShape::Preset(name) => {
                let preset = crate::strategy::presets::retry_of(name)?;
                for &a in &attempts {
                    for &b in &budgets {
                        let mut r = preset.clone();
                        r.max_attempts = a;
                        let budget_label = match b {
                            BudgetChoice::Off => String::new(),
                            other => {
                                r.budget = Some(budget_spec(other));
                                format!(", {} budget", budget_word(other))
                            }
                        };
                        push(RetryChoice {
                            label: format!("{name} ×{a}{budget_label}"),
                            spec: Some(r),
                        });
                    }
                }
            }
        }
    }
    dims.push(Dimension {
        setting: "retry".into(),
        values: out.iter().map(|c| c.label.clone()).collect(),
        source: format!(
            "{source}; attempts {} and budgets {} laid over each preset",
            list(&attempts),
            budgets.iter().map(|b| budget_word(*b)).collect::<Vec<_>>().join(", ")
        ),
    });
    Ok(out)
}

/// A budget's word.
fn budget_word(b: BudgetChoice) -> &'static str {
    match b {
        BudgetChoice::Off => "off",
        BudgetChoice::Percent => "20%",
        BudgetChoice::Grpc => "gRPC",
        BudgetChoice::Aws => "AWS",
    }
}

/// A budget's spec at its defaults.
fn budget_spec(b: BudgetChoice) -> BudgetSpec {
    let table = match b {
        // Finagle's 20%, without its floor of 10 retries a second (at Gemini's rates of a few
        // requests a second that floor would let every retry through).
        BudgetChoice::Percent | BudgetChoice::Off => "kind = \"percent\"\npercent = 20.0\nmin_per_sec = 0.5",
        BudgetChoice::Grpc => "kind = \"grpc\"",
        BudgetChoice::Aws => "kind = \"aws\"",
    };
    toml::from_str(table).expect("a budget's defaults parse")
}

/// Numbers as a list.
fn list(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// The client rate limits.
fn rate_choices(
    spec: &PlanSpec,
    inputs: &Inputs<'_>,
    dims: &mut Vec<Dimension>,
    not: &mut Vec<String>,
) -> Vec<(String, Option<crate::strategy::limiter::RateLimitSpec>)> {
    let quota = inputs.pilot.run.mock_quota().filter(|(rpm, tpm)| *rpm > 0 || *tpm > 0);
    let Some((rpm, tpm)) = quota else {
        not.push("rate_limit: the model has no per-minute quota to pace under (as configured)".into());
        return vec![(String::new(), None)];
    };
    let (choices, source) = match &spec.rate_limit {
        Some(c) => (c.clone(), "[plan] rate_limit"),
        None => (
            vec![
                RateChoice::Off(crate::scenario::plan::Off::Off),
                RateChoice::Share(0.95),
            ],
            "off, and 95% of the model's quota (default)",
        ),
    };
    let out: Vec<(String, Option<crate::strategy::limiter::RateLimitSpec>)> = choices
        .iter()
        .map(|c| match c {
            RateChoice::Off(_) => ("no rate limit".to_string(), Some(Default::default())),
            RateChoice::Share(s) => {
                let limit = crate::strategy::limiter::RateLimitSpec {
                    rpm: (rpm as f64 * s).floor() as u64,
                    tpm: (tpm as f64 * s).floor() as u64,
                    ..Default::default()
                };
                (format!("limit {:.0}% of quota", s * 100.0), Some(limit))
            }
        })
        .collect();
    dims.push(Dimension {
        setting: "rate_limit".into(),
        values: out
            .iter()
            .map(|(l, r)| match r {
                Some(r) if r.rpm > 0 || r.tpm > 0 => format!("{l}: rpm = {}, tpm = {}", r.rpm, r.tpm),
                _ => "off".into(),
            })
            .collect(),
        source: format!("{source}; the quota is {rpm} RPM, {tpm} TPM"),
    });
    out
}

/// A queue's places (`None`: the candidate's own) and deadline.
type QueueBound = (Option<usize>, Duration);

/// The queues.
fn queue_choices(
    spec: &PlanSpec,
    inputs: &Inputs<'_>,
    dims: &mut Vec<Dimension>,
    not: &mut Vec<String>,
) -> Vec<(String, Option<QueueBound>)> {
    let target = latency_target(inputs.loaded);
    let choices = match spec.queues() {
        Ok(Some(c)) => c,
        _ => match target {
            Some(_) => vec![QueueChoice::Unbounded, QueueChoice::Slo],
            None => {
                not.push("queue: no latency objective to bound a wait by (as configured)".into());
                return vec![(String::new(), None)];
            }
        },
    };
    let median = inputs.pilot.service_ms.p50.unwrap_or(0.0);
    let drain = inputs
        .pilot
        .run
        .mock_quota()
        .map(|(rpm, _)| rpm as f64 / 60.0)
        .filter(|r| *r > 0.0);
    let mut out = Vec::new();
    for c in &choices {
        let deadline = match c {
            QueueChoice::Unbounded => {
                out.push(("own queue".to_string(), None));
                continue;
            }
            QueueChoice::Slo => match target {
                Some(t) => stampede_mock::duration::secs(((t - median) / 1000.0).max(1.0)),
                None => continue,
            },
            QueueChoice::Deadline(d) => *d,
        };
        let capacity = drain.map(|r| ((r * deadline.as_secs_f64()).ceil() as usize).max(1));
        let deadline = round_ms(deadline);
        let label = match capacity {
            Some(c) => format!("queue {c} / {}", humantime::format_duration(deadline)),
            None => format!("queue deadline {}", humantime::format_duration(deadline)),
        };
        out.push((label, Some((capacity, deadline))));
    }
    dims.push(Dimension {
        setting: "queue".into(),
        values: out.iter().map(|(l, _)| l.clone()).collect(),
        source: if spec.queue.is_some() {
            "[plan] queue".into()
        } else {
            "the candidate's own, and a deadline of the latency target less the median service time with the places \
             the quota clears in it (default)"
                .into()
        },
    });
    out
}

/// A duration to whole milliseconds (for labels).
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// The tightest latency objective's target (ms): the highest percentile's.
pub fn latency_target(loaded: &LoadedScenario) -> Option<f64> {
    let slo = loaded.scenario.slo.get_ref();
    let set = slo.objectives();
    [Objective::P99, Objective::P95, Objective::P90, Objective::P50]
        .into_iter()
        .find_map(|o| set.iter().find(|(k, _)| *k == o).map(|(_, t)| *t))
}

/// The attempt timeouts.
fn timeout_choices(spec: &PlanSpec, inputs: &Inputs<'_>, dims: &mut Vec<Dimension>) -> Vec<(String, Option<Duration>)> {
    let choices = match spec.attempt_timeouts() {
        Ok(Some(c)) => c,
        _ => vec![TimeoutChoice::AsConfigured, TimeoutChoice::Advised],
    };
    let advised = inputs
        .pilot
        .service_ms
        .p999
        .map(|p| Duration::from_secs((p * 1.5 / 1000.0).ceil().max(1.0) as u64));
    let mut out: Vec<(String, Option<Duration>)> = Vec::new();
    for c in &choices {
        let (label, d) = match c {
            TimeoutChoice::AsConfigured => (String::new(), None),
            TimeoutChoice::Advised => match advised {
                Some(d) => (format!("attempt timeout {}", humantime::format_duration(d)), Some(d)),
                None => continue,
            },
            TimeoutChoice::Fixed(d) => (format!("attempt timeout {}", humantime::format_duration(*d)), Some(*d)),
        };
        if !out.iter().any(|(_, o)| *o == d) {
            out.push((label, d));
        }
    }
    dims.push(Dimension {
        setting: "timeout.attempt".into(),
        values: out
            .iter()
            .map(|(_, d)| d.map_or_else(|| "own".to_string(), |d| humantime::format_duration(d).to_string()))
            .collect(),
        source: if spec.attempt_timeout.is_some() {
            "[plan] attempt_timeout".into()
        } else {
            "as configured, and 1.5× the pilot run's p99.9 of successful attempts (default)".into()
        },
    });
    out
}

/// The fallback models.
fn fallback_choices(
    spec: &PlanSpec,
    inputs: &Inputs<'_>,
    dims: &mut Vec<Dimension>,
    not: &mut Vec<String>,
) -> Vec<(String, Option<Option<FallbackSpec>>)> {
    let mut models: Vec<Option<String>> = match &spec.fallback {
        Some(list) => list.iter().map(|m| (m != "none").then(|| m.clone())).collect(),
        None => {
            let named: Vec<String> = inputs
                .candidates
                .iter()
                .filter_map(|c| c.strategy.fallback.as_ref()?.model.clone())
                .collect();
            if named.is_empty() {
                not.push(
                    "fallback: a fallback model changes the answers' quality; name the models to try in [plan] \
                     fallback (as configured)"
                        .into(),
                );
                return vec![(String::new(), None)];
            }
            std::iter::once(None).chain(named.into_iter().map(Some)).collect()
        }
    };
    models.dedup();
    let out: Vec<(String, Option<Option<FallbackSpec>>)> = models
        .iter()
        .map(|m| match m {
            None => ("no fallback".to_string(), Some(None)),
            Some(m) => (
                format!("fallback {m}"),
                Some(Some(FallbackSpec {
                    model: Some(m.clone()),
                    ..toml::from_str("degraded = false").expect("fallback defaults parse")
                })),
            ),
        })
        .collect();
    dims.push(Dimension {
        setting: "fallback".into(),
        values: out
            .iter()
            .map(|(_, f)| {
                f.clone()
                    .flatten()
                    .and_then(|f| f.model)
                    .unwrap_or_else(|| "none".into())
            })
            .collect(),
        source: if spec.fallback.is_some() {
            "[plan] fallback".into()
        } else {
            "none, and each model the candidates fall back to".into()
        },
    });
    out
}

/// The service tiers (`None`: as configured).
fn tier_choices(
    spec: &PlanSpec,
    dims: &mut Vec<Dimension>,
    not: &mut Vec<String>,
) -> Vec<(String, Option<stampede_mock::profile::ServiceTier>)> {
    match &spec.service_tier {
        Some(list) => {
            dims.push(Dimension {
                setting: "service_tier".into(),
                values: list.iter().map(|t| t.as_str().to_string()).collect(),
                source: "[plan] service_tier, for every lane".into(),
            });
            list.iter()
                .map(|t| (format!("{} tier", t.as_str()), Some(*t)))
                .collect()
        }
        None => {
            not.push(
                "service_tier: flex and priority change latency and availability terms; name them in [plan] \
                 service_tier (as configured)"
                    .into(),
            );
            vec![(String::new(), None)]
        }
    }
}

/// The replica counts.
fn replica_choices(spec: &PlanSpec, base: &StrategySpec, dims: &mut Vec<Dimension>, not: &mut Vec<String>) -> Vec<u32> {
    match &spec.replicas {
        Some(list) => {
            dims.push(Dimension {
                setting: "replicas".into(),
                values: list.iter().map(u32::to_string).collect(),
                source: "[plan] replicas, workers searched per replica".into(),
            });
            list.clone()
        }
        None => {
            not.push(format!(
                "replicas: {} as configured (list counts in [plan] replicas to search them)",
                base.replicas
            ));
            vec![base.replicas]
        }
    }
}
