//! The engine's alarm for arrivals in real time: microsecond precision without spinning.
//!
//! tokio's timer fires on whole milliseconds, so a request due at 3.2 ms would be taken in at
//! 4 ms: a schedule lag the run would report against itself. On Linux the alarm is a timerfd in
//! the runtime's reactor: the worker waiting in `epoll` wakes at the armed time (within tens of
//! microseconds), and nothing spins — the engine runs on the runtime's workers beside its
//! attempts, and a spin there would take their CPU. Elsewhere it falls back to tokio's timer.
//!
//! Dense arrivals are taken in together: when consecutive arrivals are due less than
//! [`DENSE_GAP`] apart (over 10,000 a second), the alarm rings on a grid of [`BATCH`] steps —
//! at the first step at or after the next arrival is due — and the engine takes in every
//! arrival due by then at once (or earlier, on time, when an answer wakes it first). Arming the
//! timer and waking for each arrival cost more CPU than the HTTP exchange itself at such rates;
//! the grid re-arms it at most once a step and bounds the schedule lag it adds by `BATCH` (the
//! lag is measured and reported like any other).

use std::time::Duration;

use tokio::time::Instant;

/// Arrivals due closer together than this are dense.
pub(super) const DENSE_GAP: Duration = Duration::from_micros(100);

/// How long after a dense arrival is due the alarm rings for it and the ones due by then.
pub(super) const BATCH: Duration = Duration::from_micros(250);

/// An alarm that can be armed for one instant at a time.
pub(super) struct Alarm {
    #[cfg(target_os = "linux")]
    timer: Option<timerfd::TimerFd>,
    armed: Option<Instant>,
    /// The arrival the alarm was last asked for, and whether it came densely after the one before.
    last: Option<(Instant, bool)>,
    /// The origin of the grid of dense arrivals (the first arrival asked for).
    origin: Option<Instant>,
}

impl Alarm {
    /// An alarm (a timerfd where there is one; it must be made inside the runtime).
    pub(super) fn new() -> Alarm {
        Alarm {
            #[cfg(target_os = "linux")]
            timer: timerfd::TimerFd::new().ok(),
            armed: None,
            last: None,
            origin: None,
        }
    }

    /// Resolves when an arrival due at `at` is to be taken in: at `at`, or [`BATCH`] later when
    /// arrivals come densely (at once if that has passed).
    pub(super) async fn until(&mut self, due: Instant) {
        let dense = match self.last {
            Some((last, dense)) if last == due => dense,
            Some((last, _)) => due.saturating_duration_since(last) < DENSE_GAP,
            None => false,
        };
        self.last = Some((due, dense));
        let origin = *self.origin.get_or_insert(due);
        let at = if dense { on_grid(origin, due) } else { due };
        #[cfg(target_os = "linux")]
        if let Some(timer) = &self.timer {
            loop {
                let now = Instant::now();
                if now >= at {
                    return;
                }
                if self.armed != Some(at) {
                    if timer.arm(at - now).is_err() {
                        break;
                    }
                    self.armed = Some(at);
                }
                // A stale expiry (from an earlier arming) only sends the loop round again.
                if timer.expired().await.is_err() {
                    break;
                }
            }
        }
        self.armed = None;
        tokio::time::sleep_until(at).await;
    }
}

/// The first step of the `BATCH` grid from `origin` at or after `due`.
fn on_grid(origin: Instant, due: Instant) -> Instant {
    let step = BATCH.as_nanos();
    let since = due.saturating_duration_since(origin).as_nanos();
    let steps = since.div_ceil(step);
    origin + Duration::from_nanos(u64::try_from(steps * step).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_arrivals_ring_on_the_first_step_at_or_after_them() {
        let o = Instant::now();
        let us = Duration::from_micros;
        assert_eq!(on_grid(o, o), o);
        assert_eq!(on_grid(o, o + us(1)), o + us(250));
        assert_eq!(on_grid(o, o + us(250)), o + us(250));
        assert_eq!(on_grid(o, o + us(251)), o + us(500));
    }
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// A non-blocking monotonic timerfd registered with the runtime's reactor.
    pub(super) struct TimerFd(AsyncFd<OwnedFd>);

    impl TimerFd {
        pub(super) fn new() -> io::Result<TimerFd> {
            // SAFETY: timerfd_create takes plain flags and returns a new descriptor or -1.
            let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a descriptor we just created and own.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: an OwnedFd is a valid open descriptor that stays the same until dropped,
            // and it is dropped only with the AsyncFd that owns it.
            let registered = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) };
            registered.map(TimerFd).map_err(|e| e.into_parts().1)
        }

        /// Arms the timer to expire once, `after` from now (replacing any earlier arming).
        pub(super) fn arm(&self, after: Duration) -> io::Result<()> {
            // A zero value would disarm it: at least a nanosecond.
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec {
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: the descriptor is ours and open; `spec` is a valid itimerspec.
            let rc = unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Resolves once the timer has expired (since it was last read).
        pub(super) async fn expired(&self) -> io::Result<()> {
            loop {
                let mut guard = self.0.readable().await?;
                let mut count = [0u8; 8];
                // SAFETY: reads at most 8 bytes into an 8-byte buffer from our descriptor.
                let n = unsafe { libc::read(self.0.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
                if n == 8 {
                    return Ok(());
                }
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::WouldBlock {
                    guard.clear_ready();
                    continue;
                }
                return Err(err);
            }
        }
    }
}
