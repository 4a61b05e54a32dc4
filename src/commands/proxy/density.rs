//! Characters per token each model's answers showed so far: the proxy estimates the prompt
//! tokens of a request the upstream refused (it counted nothing) from them, or at 4
//! characters a token before any answer.

use std::collections::HashMap;

use parking_lot::Mutex;
use stampede_mock::tokens::DEFAULT_CHARS_PER_TOKEN;

/// The most models remembered (a hostile client could name a new model per request).
const MAX_MODELS: usize = 1000;

/// Characters and tokens seen per model.
#[derive(Debug, Default)]
pub struct Densities(Mutex<HashMap<String, (u64, u64)>>);

impl Densities {
    /// An answered prompt of `chars` characters the upstream counted as `tokens`.
    pub fn learn(&self, model: &str, chars: u64, tokens: u64) {
        let mut map = self.0.lock();
        if map.len() >= MAX_MODELS && !map.contains_key(model) {
            return;
        }
        let e = map.entry(model.to_string()).or_default();
        e.0 = e.0.saturating_add(chars);
        e.1 = e.1.saturating_add(tokens);
    }

    /// Tokens a prompt of `chars` characters likely is for `model`.
    pub fn estimate(&self, model: &str, chars: u64) -> u64 {
        let density = match self.0.lock().get(model) {
            Some(&(c, t)) if c > 0 && t > 0 => c as f64 / t as f64,
            _ => DEFAULT_CHARS_PER_TOKEN,
        };
        (chars as f64 / density).ceil() as u64
    }
}
