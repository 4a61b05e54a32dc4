//! Response cache: answers kept by prompt and model for `ttl`, at most `capacity` of them
//! (the oldest goes first). In-flight deduplication — a request joining an identical one already
//! in flight — lives in the engine, which owns the requests.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::policy::{Admission, Arrival, Policy};
use crate::backend::Tokens;

fn d10m() -> Duration {
    Duration::from_secs(600)
}
fn d10k() -> usize {
    10_000
}

/// `[strategy.cache]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// How long an answer stays usable.
    #[serde(default = "d10m", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub ttl: Duration,
    /// Most answers kept.
    #[serde(default = "d10k")]
    pub capacity: usize,
}

/// The cache.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    spec: CacheSpec,
    entries: HashMap<(u64, u8), (Instant, Tokens, u64)>,
    order: VecDeque<((u64, u8), u64)>,
    seq: u64,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new(spec: CacheSpec) -> ResponseCache {
        ResponseCache {
            spec,
            entries: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// The stored answer's tokens, if it is there and fresh.
    pub fn get(&mut self, now: Instant, key: (u64, u8)) -> Option<Tokens> {
        match self.entries.get(&key) {
            Some((expires, tokens, _)) if *expires > now => Some(*tokens),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Stores an answer.
    pub fn put(&mut self, now: Instant, key: (u64, u8), tokens: Tokens) {
        if self.spec.capacity == 0 {
            return;
        }
        self.seq += 1;
        self.entries.insert(key, (now + self.spec.ttl, tokens, self.seq));
        self.order.push_back((key, self.seq));
        while self.entries.len() > self.spec.capacity {
            let Some((old, seq)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&old).is_some_and(|e| e.2 == seq) {
                self.entries.remove(&old);
            }
        }
        // Keep the order log from growing with overwritten keys.
        if self.order.len() > 2 * self.spec.capacity.max(16) {
            let entries = &self.entries;
            self.order.retain(|(k, s)| entries.get(k).is_some_and(|e| e.2 == *s));
        }
    }
}

impl Policy for ResponseCache {
    fn admit(&mut self, now: Instant, arrival: &Arrival) -> Admission {
        match self.get(now, arrival.prompt) {
            Some(tokens) => Admission::Answer(tokens),
            None => Admission::Pass,
        }
    }

    fn on_answer(&mut self, now: Instant, prompt: (u64, u8), tokens: Tokens) {
        self.put(now, prompt, tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ttl_and_capacity() {
        let t0 = Instant::now();
        let mut c = ResponseCache::new(toml::from_str("ttl = \"10s\"\ncapacity = 2").unwrap());
        let t = Tokens {
            input: 5,
            output: 7,
            thinking: 0,
            ..Tokens::default()
        };
        c.put(t0, (1, 0), t);
        assert_eq!(c.get(t0 + Duration::from_secs(9), (1, 0)), Some(t));
        assert_eq!(c.get(t0 + Duration::from_secs(10), (1, 0)), None, "expired");
        c.put(t0, (1, 0), t);
        c.put(t0, (2, 0), t);
        c.put(t0, (3, 0), t);
        assert_eq!(c.get(t0, (1, 0)), None, "oldest evicted");
        assert!(c.get(t0, (2, 0)).is_some() && c.get(t0, (3, 0)).is_some());
        assert_eq!(c.get(t0, (2, 1)), None, "another model is another entry");
        for i in 0..1000 {
            c.put(t0, (2, 0), t);
            c.put(t0, (i % 3, 0), t);
        }
        assert!(c.order.len() <= 32);
    }
}
