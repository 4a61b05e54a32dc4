//! What the engine's test files share: a backend that answers from a script, and small
//! builders.

use stampede_mock::duration::secs as secs_f64;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::{sleep, Instant};

use crate::backend::{Attempt, AttemptError, AttemptResult, Backend, Tokens};

/// How a [`Scripted`] backend answers an attempt: after this delay, with this result.
pub type Script = dyn Fn(&Attempt) -> (Duration, Result<Tokens, AttemptError>) + Send + Sync;

/// A backend that answers each attempt after a scripted delay with a scripted result.
pub struct Scripted(pub Box<Script>);

impl Backend for Scripted {
    fn call(&self, a: Attempt) -> BoxFuture<'static, AttemptResult> {
        let (delay, result) = (self.0)(&a);
        Box::pin(async move {
            sleep(delay).await;
            match result {
                Ok(t) => AttemptResult::ok(t, Instant::now(), None),
                Err(e) => AttemptResult::failed(e),
            }
        })
    }
}

/// A small successful answer.
pub fn ok() -> Result<Tokens, AttemptError> {
    Ok(Tokens {
        input: 10,
        output: 5,
        thinking: 0,
        ..Tokens::default()
    })
}

/// Seconds as a duration.
pub fn secs(s: f64) -> Duration {
    secs_f64(s)
}
