//! Shards of one run: `stampede run SCENARIO --shard I/N` sends exactly the requests of the
//! full seeded schedule that the load balancer gives to replica I of N, so N processes on N
//! machines together send the traffic of one run with `replicas = N`; each writes its own
//! summary with the raw figures a merge adds up exactly.
//!
//! In the simulator a shard runs the whole simulation (every replica against the one shared
//! upstream, as the real shards would meet at the quota) and reports its own replica's records:
//! the shards' merge then equals the unsharded run bit for bit. On a live target it sends only
//! its own requests ([`ShardFilter`]), which needs a balance that follows from the request alone
//! and an open-loop schedule.

use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::strategy::balance::Balance;
use crate::traffic::{Peek, PlannedRequest, TrafficSource};

/// `--shard I/N`: this process is replica `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u16,
    /// How many shards the run has.
    pub count: u16,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let range = stampede_mock::ranges::REPLICAS;
        let expected = format!("expected I/N with 0 <= I < N and N from 1 to {}, as in 0/4", range.max);
        let (i, n) = text.split_once('/').ok_or_else(|| format!("{text:?}: {expected}"))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<u16>(), n.trim().parse::<u16>()) else {
            return Err(format!("{text:?}: {expected}"));
        };
        if count == 0 || f64::from(count) > range.max || index >= count {
            return Err(format!("{text:?}: {expected}"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Makes `strategy` the calling plan of one shard of `shard.count`: its replicas are the shards
/// (one replica in the scenario becomes N; another count than N is refused). A live shard needs
/// a balance that follows from the request alone and an open-loop schedule.
pub fn apply(
    strategy: &mut crate::strategy::StrategySpec,
    shard: Shard,
    live: bool,
    closed_loop: bool,
) -> Result<(), String> {
    match strategy.replicas {
        1 => strategy.replicas = u32::from(shard.count),
        n if n == u32::from(shard.count) => {}
        n => {
            return Err(format!(
                "--shard {shard}: the scenario has strategy.replicas = {n}; a run's shards are its replicas, so N \
                 must be {n} (or leave strategy.replicas at 1 and each shard is one copy of the calling plan)"
            ))
        }
    }
    if live && !strategy.balance.is_fixed() {
        return Err(format!(
            "--shard {shard} on a live target needs balance = \"round-robin\" or \"random\": \"least-loaded\" needs \
             one balancer that sees every replica, which shards in separate processes cannot share (--target sim can)"
        ));
    }
    if live && closed_loop {
        return Err(format!(
            "--shard {shard} on a live target needs an open-loop schedule: in a closed loop or conversations, when a \
             user sends next depends on answers another process would see; run it with --target sim or unsharded"
        ));
    }
    Ok(())
}

/// The fingerprint shards of one run share: the scenario's text, the seed, the traffic window
/// and the shard count, as SHA-256 hex. A merge refuses summaries whose fingerprints differ.
pub fn fingerprint(scenario_text: &str, seed: u64, duration: Duration, count: u16) -> String {
    let mut h = Sha256::new();
    h.update(scenario_text.as_bytes());
    h.update(seed.to_le_bytes());
    h.update(duration.as_nanos().to_le_bytes());
    h.update(count.to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A live shard's traffic: the full schedule's requests that the balance gives to this shard.
pub struct ShardFilter {
    inner: Box<dyn TrafficSource>,
    shard: Shard,
    balance: Balance,
    seed: u64,
    next: Option<PlannedRequest>,
}

impl ShardFilter {
    /// Shard `shard` of `inner` under `balance` (which must decide from the request alone) with
    /// the engine's `seed`.
    pub fn new(inner: Box<dyn TrafficSource>, shard: Shard, balance: Balance, seed: u64) -> ShardFilter {
        ShardFilter {
            inner,
            shard,
            balance,
            seed,
            next: None,
        }
    }

    fn mine(&self, req: &PlannedRequest) -> bool {
        self.balance.fixed(req.id, self.seed, usize::from(self.shard.count)) == Some(usize::from(self.shard.index))
    }
}

impl TrafficSource for ShardFilter {
    fn peek(&mut self) -> Peek {
        while self.next.is_none() {
            match self.inner.peek() {
                Peek::Due(_) => match self.inner.take() {
                    Some(req) if self.mine(&req) => self.next = Some(req),
                    Some(_) => {}
                    None => return Peek::Done,
                },
                other => return other,
            }
        }
        self.next.as_ref().map_or(Peek::Done, |r| Peek::Due(r.at))
    }

    fn take(&mut self) -> Option<PlannedRequest> {
        if self.next.is_none() {
            self.peek();
        }
        self.next.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_text_is_checked() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "0/0", "x/2", "1", "0/257", "-1/2"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn fingerprints_differ_by_seed_window_and_count() {
        let a = fingerprint("x", 1, Duration::from_secs(60), 4);
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint("x", 1, Duration::from_secs(60), 4));
        assert_ne!(a, fingerprint("x", 2, Duration::from_secs(60), 4));
        assert_ne!(a, fingerprint("x", 1, Duration::from_secs(61), 4));
        assert_ne!(a, fingerprint("x", 1, Duration::from_secs(60), 2));
        assert_ne!(a, fingerprint("y", 1, Duration::from_secs(60), 4));
    }
}
