//! Results of attempts that run on tasks of their own (real time), on their way back to the
//! engine, which owns all state. The engine drains every result already in at each wake-up, so
//! at high rates one wake-up serves a batch of answers.

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::AttemptDone;

/// The engine's end of the channel; it keeps a sender, so the channel is open while it runs.
pub(super) struct Results {
    sender: UnboundedSender<AttemptDone>,
    receiver: UnboundedReceiver<AttemptDone>,
}

impl Results {
    pub(super) fn new() -> Results {
        let (sender, receiver) = unbounded_channel();
        Results { sender, receiver }
    }

    /// A sender for one attempt.
    pub(super) fn sender(&self) -> UnboundedSender<AttemptDone> {
        self.sender.clone()
    }

    /// The next result, when it comes.
    pub(super) async fn next(&mut self) -> Option<AttemptDone> {
        self.receiver.recv().await
    }

    /// A result already in, if there is one.
    pub(super) fn try_next(&mut self) -> Option<AttemptDone> {
        self.receiver.try_recv().ok()
    }
}
