//! `stampede plan --emit LANG`: the recommended calling plan as client code for an official
//! Gemini SDK, ready to paste.
//!
//! The plan as recommended is exactly what was simulated: the winning candidate's strategy with
//! the recommended workers (the advice map was not simulated, so it is not emitted). Each
//! language sets what its SDK can express (per-attempt timeout, retry options) through the SDK
//! itself, and writes the rest — the worker pool, the queue, the client rate limit, the total
//! timeout, the fallback — as a small wrapper around the SDK's client. Whatever neither can
//! express is listed at the top of the file, one sentence each ([`unexpressed`]), so the code
//! never claims a behaviour the plan's figures rest on but the client lacks.
//!
//! Layout: [`retry`] maps the plan's retry rule to the SDKs' `HttpRetryOptions` and names the
//! gaps; [`python`], [`typescript`] and [`go`] each build their template's values and their own
//! gaps; the templates (`templates/`) are the code, rendered by minijinja.

mod go;
mod python;
mod retry;
mod typescript;
mod values;

use std::str::FromStr;
use std::time::Duration;

use minijinja::Environment;

use super::verdict::PlanRecommendation;
use crate::strategy::concurrency::Algorithm;
use crate::strategy::limiter::Scope;
use crate::strategy::queue::{Overflow, Scheduler};
use crate::strategy::retry::BackoffPolicy;
use crate::strategy::StrategySpec;

/// A language `--emit` writes a client in, each on its official Gemini SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Python on `google-genai` (asyncio).
    Python,
    /// TypeScript on `@google/genai`.
    Typescript,
    /// Go on `google.golang.org/genai`.
    Go,
}

impl Language {
    /// The file the client is written to in the plan's output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Language::Python => "plan_client.py",
            Language::Typescript => "plan_client.ts",
            Language::Go => "plan_client.go",
        }
    }

    /// The SDK the code is written for and the version its facts were read from.
    pub fn sdk(self) -> &'static str {
        match self {
            Language::Python => python::SDK,
            Language::Typescript => typescript::SDK,
            Language::Go => go::SDK,
        }
    }

    /// The preset that mirrors this SDK's retries (what a full search tries by default, so the
    /// emitted code can do what was simulated).
    pub fn retry_preset(self) -> &'static str {
        match self {
            // go-genai's waits are the Python SDK's (`retryDelay`: "the same formula").
            Language::Python | Language::Go => "google-genai-retry",
            Language::Typescript => "google-genai-js-retry",
        }
    }

    /// The SDK's short name, for sentences.
    fn sdk_name(self) -> &'static str {
        match self {
            Language::Python => "google-genai",
            Language::Typescript => "@google/genai",
            Language::Go => "go-genai",
        }
    }

    /// How a comment line starts.
    fn comment(self) -> &'static str {
        match self {
            Language::Python => "#",
            Language::Typescript | Language::Go => "//",
        }
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Language, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "python" | "py" => Ok(Language::Python),
            "typescript" | "ts" => Ok(Language::Typescript),
            "go" | "golang" => Ok(Language::Go),
            _ => Err(format!(
                "{:?}: expected a language to emit: python, typescript or go",
                crate::spec_error::shown(s)
            )),
        }
    }
}

/// The client code for `rec` in `language`: the SDK's own options where it has them, a small
/// wrapper for the rest, and a header naming the scenario, the candidate, the figures the plan
/// measured and every setting the code cannot express. `model` is the scenario's model.
pub fn emit(language: Language, rec: &PlanRecommendation, model: &str, scenario: &str) -> String {
    let mut strategy = rec.strategy.clone();
    strategy.workers = rec.workers;
    let header = header(language, rec, &strategy, scenario);
    let (name, source, values) = match language {
        Language::Python => ("client.py", python::TEMPLATE, python::values(&strategy, model)),
        Language::Typescript => ("client.ts", typescript::TEMPLATE, typescript::values(&strategy, model)),
        Language::Go => ("client.go", go::TEMPLATE, go::values(&strategy, model)),
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template(name, source).expect("emit templates parse");
    let context = minijinja::context! { header => header.trim_end(), ..values };
    env.get_template(name)
        .and_then(|t| t.render(context))
        .expect("emit templates render with their values")
}

/// Each setting of `strategy` that `language`'s SDK and the emitted code cannot express, as a
/// sentence (empty when the code carries out the whole plan).
pub fn unexpressed(language: Language, strategy: &StrategySpec) -> Vec<String> {
    let sdk = language.sdk_name();
    let mut out = common_gaps(strategy);
    out.extend(match language {
        Language::Python => python::gaps(strategy),
        Language::Typescript => typescript::gaps(strategy),
        Language::Go => go::gaps(strategy),
    });
    out.extend(retry::rule_gaps(&strategy.retry, sdk));
    out
}

/// The gaps every language shares: what the wrapper's fixed pool, single FIFO queue and
/// lane-less calls cannot say, and the policies it does not write ([`policy_gaps`]).
fn common_gaps(s: &StrategySpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut gap = |on: bool, text: String| {
        if on {
            out.push(text);
        }
    };
    gap(
        s.concurrency.algorithm != Algorithm::Fixed,
        format!(
            "concurrency.algorithm = \"{}\": the plan adapts its limit under {} workers; this client keeps \
             all {} (no adaptive concurrency).",
            format!("{:?}", s.concurrency.algorithm).to_lowercase(),
            s.workers,
            s.workers
        ),
    );
    gap(
        s.replicas > 1,
        format!(
            "replicas = {}: run one copy of this client per replica behind your load balancer ({}), each \
             with its own workers, queue and rate limit.",
            s.replicas,
            s.balance.as_str()
        ),
    );
    gap(
        s.replicas > 1 && s.rate_limit.shared && (s.rate_limit.rpm > 0 || s.rate_limit.tpm > 0),
        "rate_limit.shared: the plan's rate limit is one bucket all replicas share (a limiter in a shared store); \
         this client's bucket is its own, at the whole rate."
            .into(),
    );
    gap(
        s.queue.scheduler != Scheduler::Fifo,
        format!(
            "queue.scheduler = \"{}\": this client has one FIFO queue, without lanes.",
            format!("{:?}", s.queue.scheduler).to_lowercase()
        ),
    );
    gap(
        s.queue.overflow == Overflow::Block && s.queue.deadline.is_some(),
        "queue.overflow = \"block\": this client queues past the capacity instead of holding the traffic back, \
         so its queue deadline counts from each call, not from when the request found room."
            .into(),
    );
    gap(
        s.rate_limit.scope == Scope::Lane && (s.rate_limit.rpm > 0 || s.rate_limit.tpm > 0),
        "rate_limit.scope = \"lane\": this client has no lanes; it keeps one set of buckets for all requests.".into(),
    );
    gap(
        !s.reserve.is_empty(),
        "reserve: workers kept for one lane; this client has no lanes.".into(),
    );
    gap(
        !s.service_tier.is_empty(),
        "service_tier: the tier each lane asks for; set `service_tier` in your calls' config per lane.".into(),
    );
    gap(
        !s.pin_prefix.is_empty(),
        "pin_prefix: explicit context caches made before the traffic; create them with the SDK's caches API and \
         name them in your calls."
            .into(),
    );
    out.extend(policy_gaps(s));
    out
}

/// The client policies no official SDK has and the wrapper does not write: breaker, hedging,
/// cache, dedup, adaptive throttling and rate limits, and a fallback on an open breaker.
fn policy_gaps(s: &StrategySpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = &s.breaker {
        out.push(format!(
            "breaker: a circuit breaker per model (opens at {:.0}% failures over {} calls, for {}); no official SDK \
             has one and this client does not write one.",
            b.failure_rate * 100.0,
            b.size,
            humantime::format_duration(b.open_for)
        ));
    }
    if let Some(h) = &s.hedge {
        let when = match (h.after, h.percentile) {
            (Some(d), _) => format!("after {}", humantime::format_duration(d)),
            (None, Some(p)) => format!("at the observed p{:.0}", p * 100.0),
            _ => "on a delay".into(),
        };
        out.push(format!(
            "hedge: a second copy of an attempt still running {when}; not in the SDK nor in this client."
        ));
    }
    if let Some(c) = &s.cache {
        out.push(format!(
            "cache: a response cache ({} entries for {}); not in this client.",
            c.capacity,
            humantime::format_duration(c.ttl)
        ));
    }
    let mut more = |on: bool, text: &str| {
        if on {
            out.push(text.to_string());
        }
    };
    more(
        s.dedup,
        "dedup: joining an identical request already in flight; not in this client.",
    );
    more(
        s.throttle.is_some(),
        "throttle: Google SRE client-side adaptive throttling; not in the SDK nor in this client.",
    );
    more(
        s.adaptive_rate,
        "adaptive_rate: the AWS SDK's adaptive (CUBIC) client rate limiter; not in the SDK nor in this client.",
    );
    more(
        s.fallback
            .as_ref()
            .is_some_and(|f| f.on.contains(&crate::strategy::fallback::FallbackOn::Breaker)),
        "fallback.on = \"breaker\": there is no breaker here to open, so only the other triggers fall back.",
    );
    out
}

/// The header comment: what the file is, the plan as simulated, the figures the plan measured
/// and what the code cannot express.
fn header(language: Language, rec: &PlanRecommendation, s: &StrategySpec, scenario: &str) -> String {
    let mut text = vec![
        format!(
            "{} — calling plan \"{}\" of scenario \"{}\".",
            language.file_name(),
            rec.candidate,
            scenario,
        ),
        format!(
            "Emitted by `stampede plan --emit {}` for {}.",
            language_flag(language),
            language.sdk()
        ),
        format!("The plan, as simulated: {}.", describe(s).join("; ")),
    ];
    if !rec.why.is_empty() {
        text.push(format!("Why these workers: {}", rec.why));
    }
    if let Some(c) = rec.cost_usd {
        text.push(format!(
            "Expected cost at this plan, simulated: {} an hour, {} a day, {} a 30-day month.",
            crate::format::usd(Some(c.hour)),
            crate::format::usd(Some(c.day)),
            crate::format::usd(Some(c.month))
        ));
    }
    let gaps = unexpressed(language, s);
    let c = language.comment();
    let mut out = String::new();
    for paragraph in &text {
        push_wrapped(&mut out, c, paragraph, "");
    }
    if gaps.is_empty() {
        push_wrapped(&mut out, c, "This code expresses every setting of the plan.", "");
    } else {
        push_wrapped(&mut out, c, "Not expressed here (the plan's figures assume them):", "");
        for g in &gaps {
            push_wrapped(&mut out, c, &format!("- {g}"), "  ");
        }
    }
    out
}

/// `s` as a double-quoted string literal that Python, TypeScript and Go all read the same (JSON's
/// escapes are theirs), so no name from a scenario can end the string early.
fn literal(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `text` on one line: a control character (a newline in a scenario's name) cannot end the
/// comment it is written in.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `text` wrapped into comment lines starting with `comment`, continuation lines indented.
fn push_wrapped(out: &mut String, comment: &str, text: &str, indent: &str) {
    let wrapped = crate::format::wrap(&one_line(text), 96, indent.len());
    for line in wrapped.lines() {
        out.push_str(comment);
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// The `--emit` value naming `language`.
fn language_flag(language: Language) -> &'static str {
    match language {
        Language::Python => "python",
        Language::Typescript => "typescript",
        Language::Go => "go",
    }
}

/// The plan's settings in short phrases, for the header.
fn describe(s: &StrategySpec) -> Vec<String> {
    let mut out = vec![format!(
        "{} workers (requests in flight or waiting to retry)",
        s.workers
    )];
    out.push(format!(
        "queue of at most {} waiting ({} when full){}",
        s.queue.capacity,
        overflow_name(s.queue.overflow),
        s.queue
            .deadline
            .map_or(String::new(), |d| format!(", each for at most {}", human(d)))
    ));
    let l = &s.rate_limit;
    if l.rpm > 0 || l.tpm > 0 {
        let mut parts = Vec::new();
        if l.rpm > 0 {
            parts.push(format!("{} requests/min (burst {})", l.rpm, trim(burst_requests(s))));
        }
        if l.tpm > 0 {
            parts.push(format!("{} input tokens/min (burst {})", l.tpm, trim(burst_tokens(s))));
        }
        out.push(format!("client rate limit {}", parts.join(" and ")));
    }
    out.push(format!(
        "attempt timeout {}, total {}",
        human(s.timeout.attempt),
        human(s.timeout.total)
    ));
    out.push(retry::describe(&s.retry));
    if let Some(f) = &s.fallback {
        let to = f
            .model
            .as_deref()
            .map_or("a degraded answer".to_string(), |m| format!("model {m}"));
        let on: Vec<String> = f.on.iter().map(|o| fallback_on(*o).to_string()).collect();
        out.push(format!("fallback to {to} on {}", on.join(", ")));
    }
    out
}

/// The scenario's spelling of an overflow rule.
fn overflow_name(o: Overflow) -> &'static str {
    match o {
        Overflow::Reject => "reject",
        Overflow::DropOldest => "drop-oldest",
        Overflow::Block => "block",
    }
}

/// The scenario's spelling of a fallback trigger.
fn fallback_on(on: crate::strategy::fallback::FallbackOn) -> &'static str {
    use crate::strategy::fallback::FallbackOn::*;
    match on {
        S429 => "429",
        S503 => "503",
        S5xx => "5xx",
        Breaker => "breaker",
        Timeout => "timeout",
    }
}

/// The request bucket's size: the plan's `burst_requests`, else one second's worth, at least 1
/// (as stampede's limiter sizes it).
fn burst_requests(s: &StrategySpec) -> f64 {
    let l = &s.rate_limit;
    l.burst_requests.unwrap_or((l.rpm as f64 / 60.0).max(1.0))
}

/// The token bucket's size: the plan's `burst_tokens`, else one second's worth.
fn burst_tokens(s: &StrategySpec) -> f64 {
    let l = &s.rate_limit;
    l.burst_tokens.unwrap_or(l.tpm as f64 / 60.0)
}

/// A duration as the scenario writes it ("150ms", "2s", "1m 30s").
fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A number without trailing zeros, at most 4 decimals ("1.6667", "2").
fn trim(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "" | "-" => "0".to_string(),
        s => s.to_string(),
    }
}

/// Whether the plan retries at all.
fn retries(s: &StrategySpec) -> bool {
    s.retry.policy != BackoffPolicy::None && s.retry.max_attempts > 1
}

#[cfg(test)]
mod tests;
