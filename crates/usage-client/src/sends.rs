//! What the client has spent of the org's rate limit: every request it put on the wire,
//! retries and token requests included, shared by its clones.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Sends(AtomicU64);

impl Sends {
    /// One more request about to go out.
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
