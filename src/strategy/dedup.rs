//! In-flight dedup: a request asking what a live request already asks (same prompt, same
//! model) waits for that one's answer instead of being sent again. The first to be queued leads;
//! those that arrive while it lives join it and share its end.

use std::collections::HashMap;

use tokio::time::Instant;

use super::policy::{Admission, Arrival, Policy};

/// The live leader of each prompt.
#[derive(Debug, Default)]
pub struct Dedup {
    leaders: HashMap<(u64, u8), usize>,
}

impl Policy for Dedup {
    fn admit(&mut self, _now: Instant, arrival: &Arrival) -> Admission {
        match self.leaders.get(&arrival.prompt) {
            Some(&leader) => Admission::Join(leader),
            None => Admission::Pass,
        }
    }

    fn on_queued(&mut self, arrival: &Arrival) {
        self.leaders.insert(arrival.prompt, arrival.key);
    }

    fn on_finished(&mut self, key: usize, prompt: (u64, u8)) {
        if self.leaders.get(&prompt) == Some(&key) {
            self.leaders.remove(&prompt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_twin_joins_the_leader_until_it_ends() {
        let now = Instant::now();
        let mut d = Dedup::default();
        let a = Arrival {
            id: 1,
            key: 7,
            prompt: (42, 0),
        };
        let b = Arrival {
            id: 2,
            key: 8,
            prompt: (42, 0),
        };
        assert_eq!(d.admit(now, &a), Admission::Pass);
        d.on_queued(&a);
        assert_eq!(d.admit(now, &b), Admission::Join(7));
        // Another request's end leaves the leader in place; the leader's own end removes it.
        d.on_finished(8, (42, 0));
        assert_eq!(d.admit(now, &b), Admission::Join(7));
        d.on_finished(7, (42, 0));
        assert_eq!(d.admit(now, &b), Admission::Pass);
    }
}
