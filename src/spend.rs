//! The spend guard: what a run against a billed API will cost, worked out before it starts,
//! and a cap that stops it while it runs.
//!
//! - [`estimate`] walks the run's planned requests (open-loop traffic is known in advance) and
//!   prices them from the price table: every prompt at input prices and every answer at its
//!   requested `maxOutputTokens` (an upper bound: answers may be shorter), plus the thinking
//!   budget when the scenario sets one. Retries of refused attempts (429, 503) are not billed
//!   and not counted.
//! - [`SpendWatch`] adds up the cost of every answered attempt from the tokens the API counted
//!   (`usageMetadata`, `usage`) while the run goes, and stops the run — no new requests,
//!   in-flight ones finish — when the cap is reached.

use std::sync::Arc;

use serde::Serialize;
use stampede_mock::catalog::{self, Price};

use crate::engine::record::{AttemptRecord, RecordSink, RequestRecord, SecondSample};
use crate::engine::LaneConfig;
use crate::engine::Progress;
use crate::scenario::TargetKind;
use crate::traffic::{Peek, TrafficSource};

/// The cap on a billed run when neither the scenario nor the command line sets one (USD).
pub const DEFAULT_CAP_USD: f64 = 1.0;

/// What a run is expected to send and cost.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Requests the traffic schedules (after `max_requests`); `None` for a closed loop, whose
    /// count follows its latency.
    pub requests: Option<u64>,
    /// Prompt tokens of those requests.
    pub input_tokens: u64,
    /// Answer tokens asked for (`maxOutputTokens`), an upper bound.
    pub output_tokens: u64,
    /// Thinking tokens allowed (the scenario's thinking budget × requests).
    pub thinking_tokens: u64,
    /// The cost in USD at list prices; `None` when a model has no price or the count is unknown.
    pub cost_usd: Option<f64>,
    /// Models without a price in the table.
    pub unpriced: Vec<String>,
    /// Whether the scenario bounds thinking (otherwise a thinking model may bill more than
    /// the estimate, and only the in-run cap stops it).
    pub thinking_budget_set: bool,
}

impl Estimate {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        let cost = match self.cost_usd {
            Some(c) => format!(
                "≈ ${c:.4} at list prices (answers at their full maxOutputTokens; priced by {})",
                stampede_mock::catalog::data::in_force()
            ),
            None if !self.unpriced.is_empty() => format!(
                "cost unknown: {}",
                self.unpriced
                    .iter()
                    .map(|m| unpriced_help(m))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            None => "cost unknown: a closed loop's request count follows its latency".into(),
        };
        let thinking = if self.thinking_budget_set {
            format!("{} thinking", crate::format::count(self.thinking_tokens))
        } else {
            "any thinking (unbounded: set target.thinking_level or thinking_budget)".to_string()
        };
        match self.requests {
            Some(n) => format!(
                "{} requests, {} input tokens, up to {} output tokens + {thinking}; {cost}",
                crate::format::count(n),
                crate::format::count(self.input_tokens),
                crate::format::count(self.output_tokens)
            ),
            None => cost,
        }
    }
}

/// Whether a run sends to a service that bills: a Gemini or OpenAI-compatible target whose
/// endpoint (`None`: the provider's own) is not on this machine.
pub fn billed(target: TargetKind, base_url: Option<&str>) -> bool {
    if !matches!(target, TargetKind::Gemini | TargetKind::Openai) {
        return false;
    }
    base_url.is_none_or(|url| !is_loopback(url))
}

/// Why a capacity search must not run against a billed target: a search makes dozens of runs
/// whose number is not known in advance, so a billed API is refused outright.
pub const SEARCH_REFUSAL: &str =
    "plan searches with dozens of runs and will not do that against a billed API; plan in \
     sim (the default) or against the mock, then check the recommendation with one `stampede run`";

/// Whether `url`'s host is this machine (`localhost` or a loopback address).
pub fn is_loopback(url: &str) -> bool {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What the estimate walks: the run's planned requests and what prices them.
pub struct Planned<'a> {
    /// The requests the run schedules (`None`: a closed loop, whose count follows its latency).
    pub traffic: Option<Box<dyn TrafficSource>>,
    /// Each lane's system prompt and service tier.
    pub lanes: &'a [LaneConfig],
    /// The models the run may call, by model index.
    pub models: &'a [String],
    /// Their prices, by model index.
    pub prices: &'a [Option<Price>],
    /// The scenario's thinking budget or level.
    pub thinking: stampede_mock::thinking::Thinking,
}

/// The requests a run will schedule, and their price.
pub fn estimate(planned: Planned<'_>) -> Estimate {
    let unpriced: Vec<String> = planned
        .models
        .iter()
        .zip(planned.prices)
        .filter(|(_, p)| p.is_none())
        .map(|(m, _)| m.clone())
        .collect();
    let budget = planned.thinking.budget;
    let level = planned.thinking.level;
    let mut e = Estimate {
        requests: None,
        input_tokens: 0,
        output_tokens: 0,
        thinking_tokens: 0,
        cost_usd: None,
        unpriced,
        thinking_budget_set: budget.is_some_and(|b| b >= 0) || level.is_some(),
    };
    let Some(mut traffic) = planned.traffic else {
        return e; // a closed loop: its count follows its latency
    };
    let (mut n, mut cost) = (0u64, 0.0);
    while matches!(traffic.peek(), Peek::Due(_)) {
        let Some(r) = traffic.take() else { break };
        n += 1;
        // The lane's shared system prompt and document are sent too; they are priced as fresh
        // input (caching can only make them cheaper), at the lane's service tier.
        let lane = planned.lanes.get(usize::from(r.lane)).copied().unwrap_or_default();
        let input = u64::from(r.input_tokens) + u64::from(lane.shared_tokens());
        e.input_tokens += input;
        e.output_tokens += u64::from(r.output_tokens);
        // A level thinks the mock's assumed share of the answer; a budget at most itself.
        let thinking = match level {
            Some(l) => l.thinking_tokens(u64::from(r.output_tokens)),
            None => budget.unwrap_or(0).max(0) as u64,
        };
        e.thinking_tokens += thinking;
        if let Some(Some(p)) = planned.prices.get(usize::from(r.model)) {
            let billed = catalog::Billed {
                prompt: input,
                cached: 0,
                output: u64::from(r.output_tokens),
                thinking,
            };
            cost += p.split(billed, lane.service_tier.catalog_multiplier()).total();
        }
    }
    e.requests = Some(n);
    e.cost_usd = e.unpriced.is_empty().then_some(cost);
    e
}

/// How to give `model` a price: the catalog snippet to put in a file for `--catalog FILE` (or
/// a scenario's `catalog = "FILE"`), with the model filled in and the prices left for the user
/// to write (the placeholders do not parse, so the snippet cannot run on made-up prices).
pub fn unpriced_help(model: &str) -> String {
    format!(
        "no price for {model} in {}. Add it in a file given with --catalog FILE (or `catalog = \"FILE\"` in the \
         scenario), with the figures from https://ai.google.dev/gemini-api/docs/pricing:\n\
         [models.\"{model}\"]\n\
         display_name = \"{model}\"\n\
         input_token_limit = 1048576\n\
         output_token_limit = 65536\n\
         input = USD_PER_1M_INPUT_TOKENS\n\
         output = USD_PER_1M_OUTPUT_TOKENS\n\
         source = \"where you read the prices\"\n\
         read = \"YYYY-MM-DD\"",
        stampede_mock::catalog::data::in_force()
    )
}

/// Why `runs` runs must not start, if they must not: a billed model without a price and no
/// request bound (`bounded`: the cap could not count), or an estimate above `cap` all runs
/// together.
pub fn refusal(billed: bool, bounded: bool, estimate: &Estimate, cap: Option<f64>, runs: u64) -> Option<String> {
    if billed && !estimate.unpriced.is_empty() && !bounded {
        return Some(format!(
            "there is no price for {} in the table, so the spend cap cannot count what the run costs; \
             bound it with --max-requests (or target.max_requests)",
            estimate.unpriced.join(", ")
        ));
    }
    let (total, cap) = (estimate.cost_usd? * runs as f64, cap?);
    (total > cap).then(|| match runs {
        1 => format!(
            "the estimate (${total:.4}) is above the spend cap (${cap:.2}); raise the cap with --max-cost-usd or \
             target.max_cost_usd, or send less (--duration, --max-requests)"
        ),
        n => format!(
            "{n} runs are estimated at ${total:.4}, above the spend cap (${cap:.2}); raise the cap with \
             --max-cost-usd, or run fewer or shorter (--seeds, --duration)"
        ),
    })
}

/// Adds up what answered attempts cost and stops the run at the cap.
pub struct SpendWatch {
    cap: Option<f64>,
    prices: Vec<Option<Price>>,
    progress: Arc<Progress>,
    /// Spent so far (USD).
    pub spent: f64,
    /// Whether the cap stopped the run.
    pub hit: bool,
}

impl SpendWatch {
    /// A watch over models priced `prices` (by model index); `cap: None` only counts.
    pub fn new(cap: Option<f64>, prices: Vec<Option<Price>>, progress: Arc<Progress>) -> SpendWatch {
        SpendWatch {
            cap,
            prices,
            progress,
            spent: 0.0,
            hit: false,
        }
    }
}

impl RecordSink for SpendWatch {
    fn attempt(&mut self, r: &AttemptRecord) {
        let (Ok(tokens), Some(Some(price))) = (&r.result, self.prices.get(usize::from(r.model))) else {
            return;
        };
        self.spent += price
            .split(tokens.billed(), tokens.service_tier.catalog_multiplier())
            .total();
        if let Some(cap) = self.cap {
            if self.spent >= cap && !self.hit {
                self.hit = true;
                self.progress.request_stop();
            }
        }
    }
    fn request(&mut self, _: &RequestRecord) {}
    fn second(&mut self, _: &SecondSample) {}
}
