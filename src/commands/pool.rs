//! The one worker pool for commands that make many runs (compare, plan): simulated runs are
//! spread over the machine's cores; live runs go one at a time, so they do not disturb each
//! other's timing or the target.

use std::sync::Mutex;

use crate::scenario::TargetKind;

/// How many runs against `target` may go at once, for `jobs` runs in all.
pub fn threads_for(target: TargetKind, jobs: usize) -> usize {
    if !target.is_live() {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(jobs.max(1))
    } else {
        1
    }
}

/// Calls `job` on every item on up to `threads` threads and returns the results in the items'
/// order, whatever order they finished in.
pub fn run_all<T: Sync, R: Send>(items: &[T], threads: usize, job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = Mutex::new(items.iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let Some((i, item)) = next.lock().expect("job list lock").next() else {
                    break;
                };
                let r = job(item);
                results.lock().expect("results lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order() {
        let items: Vec<u64> = (0..50).collect();
        let out = run_all(&items, 4, |&i| {
            // Later items finish first.
            std::thread::sleep(std::time::Duration::from_micros(50 - i));
            i * 2
        });
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(threads_for(TargetKind::Mock, 10), 1);
        assert!(threads_for(TargetKind::Sim, 1) == 1);
    }
}
