//! The one value progenitor's generated client carries: the request its `pre` hook took
//! (see bridge.rs). Below both, so that neither imports the other back.

use std::sync::Mutex;

/// Where the `pre` hook leaves the request it took.
#[derive(Debug, Default)]
pub struct Slot(pub(crate) Mutex<Option<reqwest::Request>>);

// progenitor's client derives `Clone`; a clone starts empty.
impl Clone for Slot {
    fn clone(&self) -> Self {
        Self::default()
    }
}
