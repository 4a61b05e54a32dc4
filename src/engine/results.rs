//! Results of attempts that run on tasks of their own (real time), on their way back to the
//! engine, which owns all state.
//!
//! The engine waits for them in one of two ways. Usually inside its `select!`, on a signal the
//! attempt raises after sending. When an arrival is due within [`super::SPIN`], it blocks its
//! own thread instead, until the arrival's time or the next result, whichever is first: a
//! precise wait that takes no CPU (the spin it replaces held a core at high rates, and starved
//! the attempts and the server sharing the machine). Blocking is safe there: in a live run the
//! engine is the only future on its thread (`block_on`), and attempts run on the runtime's
//! workers.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::AttemptDone;

/// The engine's end of the channel.
pub(super) struct Results {
    sender: Sender<AttemptDone>,
    receiver: Receiver<AttemptDone>,
    signal: Arc<Notify>,
}

/// An attempt's end of the channel.
pub(super) struct ResultSender {
    sender: Sender<AttemptDone>,
    signal: Arc<Notify>,
}

impl ResultSender {
    /// Sends the attempt's result and wakes the engine if it waits in its `select!`.
    pub(super) fn send(self, done: AttemptDone) {
        // The engine holds a sender, so the channel is open while it runs.
        if self.sender.send(done).is_ok() {
            self.signal.notify_one();
        }
    }
}

impl Results {
    pub(super) fn new() -> Results {
        let (sender, receiver) = channel();
        Results {
            sender,
            receiver,
            signal: Arc::new(Notify::new()),
        }
    }

    /// A sender for one attempt.
    pub(super) fn sender(&self) -> ResultSender {
        ResultSender {
            sender: self.sender.clone(),
            signal: self.signal.clone(),
        }
    }

    /// Resolves once a result may have been sent since the last call (it may find none).
    pub(super) async fn signalled(&self) {
        self.signal.notified().await;
    }

    /// A result already in, if there is one.
    pub(super) fn try_next(&self) -> Option<AttemptDone> {
        self.receiver.try_recv().ok()
    }

    /// Blocks the calling thread until a result comes in (returned) or `until` (`None`).
    pub(super) fn wait_until(&self, until: Instant) -> Option<AttemptDone> {
        let left = until.saturating_duration_since(Instant::now());
        self.receiver.recv_timeout(left).ok()
    }
}

/// Lets the calling thread's timed waits end within microseconds of their deadline rather than
/// Linux's default 50 µs of slack (the engine's precise waits for arrivals).
pub(super) fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a value and changes only the calling thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}
