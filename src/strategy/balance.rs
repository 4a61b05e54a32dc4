//! How requests are spread over client replicas: the load balancer in front of N copies of the
//! calling plan that share one upstream quota (`[strategy] replicas`, `balance`).
//!
//! Round-robin and random decide from the request alone (its sequence number, or for
//! conversations and closed-loop users the user, so a conversation stays on one replica): a
//! shard of a run can therefore tell its own requests without seeing the others'. Least-loaded
//! looks at every replica's load when the request arrives, which only one process seeing all
//! replicas can do.

use serde::{Deserialize, Serialize};
use stampede_mock::rng::combine;

/// Salt of the random balancer's draws.
const BALANCE_STREAM: u64 = 0x6261_6c61_6e63_6521;

/// `[strategy] balance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Request k goes to replica k mod N (user k for conversations).
    #[default]
    RoundRobin,
    /// A seeded draw per request (per user for conversations).
    Random,
    /// The replica with the fewest requests queued or being worked on (ties: the lowest index).
    LeastLoaded,
}

impl Balance {
    /// The name as scenarios write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round-robin",
            Balance::Random => "random",
            Balance::LeastLoaded => "least-loaded",
        }
    }

    /// Whether the replica of a request follows from the request alone (so shards of a run on
    /// separate machines can each pick out their own).
    pub fn is_fixed(self) -> bool {
        self != Balance::LeastLoaded
    }

    /// The replica of the request keyed `key` (its id, or its user for conversations), out of
    /// `replicas`, under a rule that needs no view of the load; `None` for least-loaded.
    pub fn fixed(self, key: u64, seed: u64, replicas: usize) -> Option<usize> {
        let n = replicas.max(1) as u64;
        match self {
            Balance::RoundRobin => Some((key % n) as usize),
            Balance::Random => Some((combine(seed ^ BALANCE_STREAM, key) % n) as usize),
            Balance::LeastLoaded => None,
        }
    }

    /// The replica of the request keyed `key`, given each replica's load (requests queued or
    /// being worked on).
    pub fn pick(self, key: u64, seed: u64, loads: &[usize]) -> usize {
        self.fixed(key, seed, loads.len()).unwrap_or_else(|| {
            let least = loads.iter().enumerate().min_by_key(|&(i, &load)| (load, i));
            least.map_or(0, |(i, _)| i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_cycles_and_random_spreads_evenly() {
        let rr: Vec<usize> = (0..8).map(|k| Balance::RoundRobin.pick(k, 7, &[0; 4])).collect();
        assert_eq!(rr, [0, 1, 2, 3, 0, 1, 2, 3]);
        let mut counts = [0u32; 4];
        for k in 0..40_000 {
            counts[Balance::Random.pick(k, 7, &[0; 4])] += 1;
        }
        // 10,000 expected each; 4 standard deviations is about 350.
        assert!(counts.iter().all(|&c| (9_650..=10_350).contains(&c)), "{counts:?}");
        assert_eq!(Balance::Random.fixed(5, 7, 4), Balance::Random.fixed(5, 7, 4));
    }

    #[test]
    fn least_loaded_takes_the_emptiest_and_the_lowest_on_ties() {
        assert_eq!(Balance::LeastLoaded.pick(0, 0, &[3, 1, 1, 2]), 1);
        assert_eq!(Balance::LeastLoaded.pick(9, 0, &[0, 0]), 0);
        assert_eq!(Balance::LeastLoaded.fixed(9, 0, 2), None);
        assert!(!Balance::LeastLoaded.is_fixed());
    }
}
