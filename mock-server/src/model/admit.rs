//! Admission: whether the model serves a call, and on what terms — the key, the model and the
//! prompt's size, the quotas, the spend limits, injected status faults, the service tier, and a
//! place in the upstream. What passes comes out as an [`Admission`]; what does not as the
//! [`Rejection`] a client sees.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Call, Draws, MockModel, Served};
use crate::capacity::Slot;
use crate::catalog::{Dimension, Limits};
use crate::errors::{ApiError, Rejection};
use crate::model::ServingFault;
use crate::profile::{FaultRates, ServiceTier};
use crate::quota::Refusal;

impl MockModel {
    /// Decides whether `call` is served (see the module docs for the order of checks).
    pub(super) async fn admit(&self, call: &Call<'_>, draws: &Draws) -> Result<Admission, Rejection> {
        self.authenticate(call.api_key).map_err(Rejection::Api)?;
        let served = self
            .served
            .get(call.model)
            .ok_or_else(|| Rejection::Api(ApiError::model_not_found(call.model, "generateContent")))?;
        check_numbers(served, call).map_err(Rejection::Api)?;
        let now = Instant::now();
        let key = call.api_key.unwrap_or("");
        let explicit = match call.cached_content {
            None => 0,
            Some(name) => self
                .explicit_tokens(now, key, name, call.model)
                .map_err(Rejection::Api)?,
        };
        let prompt = call.input_tokens + explicit;
        if prompt > served.max_input {
            return Err(Rejection::Api(ApiError::too_many_tokens(prompt, served.max_input)));
        }
        self.quotas
            .lock()
            .admit(now, key, call.model, served.limits, prompt)
            .map_err(|refusal| self.quota_rejection(served, refusal))?;
        self.spend.lock().check(now, key).map_err(Rejection::Spend)?;
        let rates = self.fault_rates_at(now, call.model);
        let fault = match pick_fault(rates, draws.fault) {
            Some(PickedFault::Status(r)) => return Err(r),
            Some(PickedFault::Quota) => {
                return Err(self.quota_rejection(
                    served,
                    Refusal {
                        dimension: Dimension::Rpm,
                        limit: served.limits.rpm,
                        retry_after: rates.retry_delay_429,
                    },
                ))
            }
            other => other,
        };
        let mut tier = self.serving_tier(now, key, call)?;
        if tier == ServiceTier::Flex && !draws.flex_wait.is_zero() {
            // Flex waits for spare capacity before it takes any, and is shed if there is
            // still none when its turn comes.
            tokio::time::sleep(draws.flex_wait).await;
            tier = self.serving_tier(Instant::now(), key, call)?;
        }
        let slot = self
            .upstream
            .enter(tier == ServiceTier::Priority)
            .await
            .map_err(|_| Rejection::Overloaded)?;
        let cached = if explicit > 0 {
            explicit
        } else {
            let min = self
                .profile
                .prices
                .get(call.model)
                .map_or(0, |p| p.implicit_cache_min_tokens);
            self.implicit.lock().serve(now, key, call.model, call.prefixes, min)
        };
        Ok(Admission {
            slot,
            fault,
            model: served.name.clone(),
            prompt,
            cached,
            tier,
        })
    }

    fn quota_rejection(&self, served: &Served, refusal: Refusal) -> Rejection {
        Rejection::Quota {
            shape: self.profile.error_shape,
            tier: self.profile.tier,
            model: served.name.clone(),
            refusal,
        }
    }

    /// The tier that serves the call: Flex is shed (503) when the upstream is above its share;
    /// Priority over its own limit, or where the project has no Priority, is served at Standard.
    fn serving_tier(&self, now: Instant, key: &str, call: &Call<'_>) -> Result<ServiceTier, Rejection> {
        let tiers = &self.profile.service_tiers;
        match call.service_tier {
            ServiceTier::Standard => Ok(ServiceTier::Standard),
            ServiceTier::Flex => {
                let max = self.profile.max_concurrent;
                let busy = f64::from(self.upstream.busy() + self.upstream.waiting());
                if max > 0 && busy >= tiers.flex_shed_at * f64::from(max) {
                    return Err(Rejection::Overloaded);
                }
                Ok(ServiceTier::Flex)
            }
            ServiceTier::Priority => {
                let Some(rpm) = tiers.priority_rpm else {
                    return Ok(ServiceTier::Standard);
                };
                let limits = Limits { rpm, tpm: 0, rpd: 0 };
                let admitted = self.priority.lock().admit(now, key, call.model, limits, 0).is_ok();
                Ok(if admitted {
                    ServiceTier::Priority
                } else {
                    ServiceTier::Standard
                })
            }
        }
    }

    fn fault_rates_at(&self, now: Instant, model: &str) -> &FaultRates {
        if self.profile.fault_windows.is_empty() {
            return &self.profile.errors;
        }
        let t = now.saturating_duration_since(self.origin);
        self.profile
            .fault_windows
            .iter()
            .find(|w| w.start <= t && t < w.end && (w.models.is_empty() || w.models.iter().any(|m| m == model)))
            .map_or(&self.profile.errors, |w| &w.errors)
    }
}

/// An admitted call: its upstream place, the serving fault drawn for it, its model, its whole
/// prompt (explicit cache included), the cached part of it and the tier serving it.
pub(super) struct Admission {
    pub(super) slot: Slot,
    pub(super) fault: Option<PickedFault>,
    pub(super) model: Arc<str>,
    pub(super) prompt: u64,
    pub(super) cached: u64,
    pub(super) tier: ServiceTier,
}

pub(super) enum PickedFault {
    Quota,
    Status(Rejection),
    Serving(ServingFault),
    SlowHeaders,
}

/// Maps one uniform draw onto the fault rates, in a fixed order.
fn pick_fault(rates: &FaultRates, u: f64) -> Option<PickedFault> {
    let table: [(f64, fn() -> PickedFault); 9] = [
        (rates.rate_429, || PickedFault::Quota),
        (rates.rate_500, || PickedFault::Status(Rejection::Internal)),
        (rates.rate_503, || PickedFault::Status(Rejection::Overloaded)),
        (rates.rate_504, || PickedFault::Status(Rejection::DeadlineExceeded)),
        (rates.rate_reset, || PickedFault::Serving(ServingFault::Reset)),
        (rates.rate_hang, || PickedFault::Serving(ServingFault::Hang)),
        (rates.rate_truncate, || PickedFault::Serving(ServingFault::Truncate)),
        (rates.rate_malformed, || PickedFault::Serving(ServingFault::Malformed)),
        (rates.rate_slow_headers, || PickedFault::SlowHeaders),
    ];
    let mut acc = 0.0;
    for (rate, make) in table {
        acc += rate;
        if u < acc {
            return Some(make());
        }
    }
    None
}

/// The numbers of a call that size its answer, each within its bound (see [`crate::bounds`]):
/// `maxOutputTokens` and the answer-length hint up to the model's output limit, the thinking
/// budget from -1 to 32,768.
fn check_numbers(served: &Served, call: &Call<'_>) -> Result<(), ApiError> {
    use crate::bounds::{in_range, MAX_THINKING_BUDGET, MIN_THINKING_BUDGET};
    if let Some(max) = call.max_output_tokens {
        in_range(
            "generation_config.max_output_tokens",
            u64::from(max),
            1,
            served.max_output,
        )?;
    }
    if let Some(hint) = call.output_hint {
        in_range("x-stampede-output-tokens", u64::from(hint), 1, served.max_output)?;
    }
    if let Some(budget) = call.thinking.budget {
        in_range(
            "generation_config.thinking_config.thinking_budget",
            budget,
            MIN_THINKING_BUDGET,
            MAX_THINKING_BUDGET,
        )?;
    }
    Ok(())
}
