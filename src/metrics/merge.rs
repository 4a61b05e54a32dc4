//! Adding up metrics: the figures of several client replicas, or of several shards of one run,
//! into one. Counters add, HDR histograms add exactly, per-second rows add field by field (a
//! gauge's value is the replicas' sum; its per-second peak is the sum of each replica's peak),
//! so merging shards in replica order gives the unsharded run's own figures.
//!
//! Each merge destructures its type whole: a field added later fails to compile here until it
//! is merged.

use std::collections::BTreeMap;

use super::billing::{Billing, TierMetrics, TurnMetrics};
use super::interval_log::IntervalLog;
use super::series::{SecondRow, Series};
use super::{AttemptCounts, LaneMetrics, Metrics, StreamMetrics, Waste};
use crate::backend::connections::Recorded;
use crate::histogram::LatencyHistogram;

fn add_opt(a: &mut Option<f64>, b: Option<f64>) {
    // Unpriced anywhere means unpriced in the sum.
    *a = a.zip(b).map(|(a, b)| a + b);
}

fn add_counts(a: &mut BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    for (k, v) in b {
        *a.entry(k.clone()).or_default() += v;
    }
}

impl LaneMetrics {
    fn merge(&mut self, o: &LaneMetrics) {
        let LaneMetrics {
            scheduled,
            succeeded,
            failed,
            dropped,
            streamed,
            waited,
            latency,
            queue_wait,
            ttft,
        } = o;
        self.scheduled += scheduled;
        self.succeeded += succeeded;
        self.failed += failed;
        self.dropped += dropped;
        self.streamed += streamed;
        self.waited += waited;
        self.latency.add(latency);
        self.queue_wait.add(queue_wait);
        self.ttft.add(ttft);
    }
}

impl AttemptCounts {
    fn merge(&mut self, o: &AttemptCounts) {
        let AttemptCounts {
            total,
            retries,
            hedges,
            cancelled,
            fallback,
            by_result,
            status_429,
            status_429_with_delay,
            status_5xx,
            transport,
            timeouts,
            refused_by,
        } = o;
        self.total += total;
        self.retries += retries;
        self.hedges += hedges;
        self.cancelled += cancelled;
        self.fallback += fallback;
        add_counts(&mut self.by_result, by_result);
        self.status_429 += status_429;
        self.status_429_with_delay += status_429_with_delay;
        self.status_5xx += status_5xx;
        self.transport += transport;
        self.timeouts += timeouts;
        for (kind, &(n, first)) in refused_by {
            let e = self.refused_by.entry(*kind).or_insert((0, first));
            e.0 += n;
            e.1 = e.1.min(first);
        }
    }
}

impl Waste {
    fn merge(&mut self, o: &Waste) {
        let Waste {
            unanswered_attempts,
            unanswered_input_tokens,
            unanswered_input_cost_usd,
            repeated_prompt_requests,
            repeated_prompt_cost_usd,
            saved_requests,
            saved_input_tokens,
        } = o;
        self.unanswered_attempts += unanswered_attempts;
        self.unanswered_input_tokens += unanswered_input_tokens;
        add_opt(&mut self.unanswered_input_cost_usd, *unanswered_input_cost_usd);
        self.repeated_prompt_requests += repeated_prompt_requests;
        add_opt(&mut self.repeated_prompt_cost_usd, *repeated_prompt_cost_usd);
        self.saved_requests += saved_requests;
        self.saved_input_tokens += saved_input_tokens;
    }
}

impl StreamMetrics {
    fn merge(&mut self, o: &StreamMetrics) {
        let StreamMetrics {
            answers,
            chunks,
            inter_chunk,
            time_per_token,
        } = o;
        self.answers += answers;
        self.chunks += chunks;
        self.inter_chunk.add(inter_chunk);
        self.time_per_token.add(time_per_token);
    }
}

impl Billing {
    fn merge(&mut self, o: &Billing) {
        let Billing {
            split,
            cache_saving_usd,
            tiers,
            storage_usd,
            batch_answers,
            batch_cost_usd,
            batch_saving_usd,
        } = o;
        self.split = self.split.zip(*split).map(|(mut a, b)| {
            a.fresh_input += b.fresh_input;
            a.cached_input += b.cached_input;
            a.output += b.output;
            a.thinking += b.thinking;
            a
        });
        add_opt(&mut self.cache_saving_usd, *cache_saving_usd);
        for (tier, t) in tiers {
            let mine = self.tiers.entry(*tier).or_insert_with(|| TierMetrics {
                cost_usd: Some(0.0),
                ..TierMetrics::default()
            });
            let TierMetrics {
                requested,
                answered,
                cost_usd,
                downgraded,
                latency,
            } = t;
            mine.requested += requested;
            mine.answered += answered;
            add_opt(&mut mine.cost_usd, *cost_usd);
            mine.downgraded += downgraded;
            mine.latency.add(latency);
        }
        add_opt(&mut self.storage_usd, *storage_usd);
        self.batch_answers += batch_answers;
        add_opt(&mut self.batch_cost_usd, *batch_cost_usd);
        add_opt(&mut self.batch_saving_usd, *batch_saving_usd);
    }
}

impl Series {
    /// Adds another series row by row (aligned on the run's start).
    pub fn merge(&mut self, o: &Series) {
        for row in &o.rows {
            let mine = self.row(row.second);
            let SecondRow {
                second: _,
                offered,
                started,
                retries,
                completed,
                succeeded,
                failed,
                dropped,
                status_429,
                errors,
                inflight,
                inflight_max,
                workers_busy,
                concurrency_limit,
                breakers_open,
                queue_depth,
                queue_max,
                tokens_in,
                tokens_out,
                cost_micro_usd,
                batch_jobs,
            } = *row;
            mine.offered += offered;
            mine.started += started;
            mine.retries += retries;
            mine.completed += completed;
            mine.succeeded += succeeded;
            mine.failed += failed;
            mine.dropped += dropped;
            mine.status_429 += status_429;
            mine.errors += errors;
            mine.inflight += inflight;
            mine.inflight_max += inflight_max;
            mine.workers_busy += workers_busy;
            mine.concurrency_limit += concurrency_limit;
            mine.breakers_open += breakers_open;
            mine.queue_depth += queue_depth;
            mine.queue_max += queue_max;
            mine.tokens_in += tokens_in;
            mine.tokens_out += tokens_out;
            mine.cost_micro_usd += cost_micro_usd;
            mine.batch_jobs += batch_jobs;
        }
    }
}

impl IntervalLog {
    /// Adds another log of the same interval, interval by interval.
    fn merge(&mut self, o: &IntervalLog) {
        if !o.is_kept() {
            return;
        }
        if !self.is_kept() {
            *self = o.clone();
            return;
        }
        let mine = self.encoded();
        let theirs = o.encoded();
        let decode = |list: &[String], i: usize| {
            list.get(i)
                .and_then(|e| LatencyHistogram::decode(e).ok())
                .unwrap_or_default()
        };
        let merged = (0..mine.len().max(theirs.len()))
            .map(|i| {
                let mut h = decode(&mine, i);
                h.add(&decode(&theirs, i));
                h.encode()
            })
            .collect();
        self.replace(merged);
    }
}

impl Recorded {
    fn merge(&mut self, o: &Recorded) {
        let Recorded {
            dns,
            connect,
            connect_failed,
        } = o;
        self.dns.add(dns);
        self.connect.add(connect);
        self.connect_failed += connect_failed;
    }
}

impl Metrics {
    /// Adds `o`'s figures to these: another replica's, or another shard's of the same run.
    /// Repeated prompts stay counted where they were seen (a prompt answered by two replicas
    /// counts once in each).
    pub fn merge(&mut self, o: &Metrics) {
        let Metrics {
            overall,
            lanes,
            attempts,
            failed_by,
            dropped_by,
            served_by,
            gave_up,
            waste,
            service,
            stream,
            connections,
            schedule_lag,
            tokens,
            planned,
            cost_usd,
            billing,
            batch_turnaround,
            batch_jobs,
            turns,
            series,
            intervals,
            prices: _,
            answered_prompts,
        } = o;
        self.overall.merge(overall);
        if self.lanes.len() < lanes.len() {
            self.lanes.resize(lanes.len(), LaneMetrics::default());
        }
        self.lanes.iter_mut().zip(lanes).for_each(|(a, b)| a.merge(b));
        self.attempts.merge(attempts);
        add_counts(&mut self.failed_by, failed_by);
        add_counts(&mut self.dropped_by, dropped_by);
        add_counts(&mut self.served_by, served_by);
        add_counts(&mut self.gave_up, gave_up);
        self.waste.merge(waste);
        self.service.add(service);
        self.stream.merge(stream);
        match (&mut self.connections, connections) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.connections = Some(b.clone()),
            _ => {}
        }
        self.schedule_lag.add(schedule_lag);
        self.tokens.add(*tokens);
        self.planned.0 += planned.0;
        self.planned.1 += planned.1;
        add_opt(&mut self.cost_usd, *cost_usd);
        self.billing.merge(billing);
        self.batch_turnaround.add(batch_turnaround);
        self.batch_jobs += batch_jobs;
        for (turn, t) in turns {
            let TurnMetrics {
                answered,
                input,
                planned_input,
                cached,
            } = *t;
            let mine = self.turns.entry(*turn).or_default();
            mine.answered += answered;
            mine.input += input;
            mine.planned_input += planned_input;
            mine.cached += cached;
        }
        self.series.merge(series);
        self.intervals.merge(intervals);
        self.answered_prompts.extend(answered_prompts);
    }
}
