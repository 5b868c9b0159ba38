//! The client-wide retry budget, after the AWS SDKs' standard retry quota: in an outage,
//! every call of a client retrying on its own multiplies the load on a service that is
//! already failing (1,000 concurrent calls with 4 attempts each send 4,000 requests). A
//! retry spends tokens from one bucket shared by the client and its clones; a success gives
//! them back, so a healthy client never runs short, and an outage drains the bucket after
//! `INITIAL / RETRY_COST` retries: from then on, each call is sent once.

use std::sync::atomic::{AtomicU32, Ordering};

/// Tokens in a full bucket.
pub(crate) const INITIAL_RETRY_TOKENS: u32 = 500;
/// What a retry after an error answer or a broken connection costs.
pub(crate) const RETRY_COST: u32 = 5;
/// What a retry after a timeout costs: a timeout ties up a connection for its whole length.
pub(crate) const RETRY_TIMEOUT_COST: u32 = 10;
/// What a success on the first attempt puts back.
const REGENERATION: u32 = 1;

#[derive(Debug)]
pub(crate) struct RetryQuota {
    tokens: AtomicU32,
}

impl Default for RetryQuota {
    fn default() -> Self {
        Self {
            tokens: AtomicU32::new(INITIAL_RETRY_TOKENS),
        }
    }
}

impl RetryQuota {
    /// Takes the cost of one retry, if the bucket holds it; returns what was taken.
    pub(crate) fn acquire(&self, after_timeout: bool) -> Option<u32> {
        let cost = if after_timeout {
            RETRY_TIMEOUT_COST
        } else {
            RETRY_COST
        };
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .ok()
            .map(|_| cost)
    }

    /// A call succeeded: the cost of its last retry comes back, or, when it needed none,
    /// one token (never past a full bucket).
    pub(crate) fn succeeded(&self, last_retry_cost: Option<u32>) {
        let back = last_retry_cost.unwrap_or(REGENERATION);
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(back).min(INITIAL_RETRY_TOKENS))
            });
    }

    #[cfg(test)]
    pub(crate) fn left(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_drains_the_bucket_after_a_hundred_retries_and_success_refills_it() {
        let quota = RetryQuota::default();
        let granted = (0..1_000)
            .filter(|_| quota.acquire(false).is_some())
            .count();
        assert_eq!(granted, 100);
        assert_eq!(quota.left(), 0);
        quota.succeeded(Some(RETRY_COST));
        assert_eq!(quota.left(), 5);
        quota.succeeded(None);
        assert_eq!(quota.left(), 6);
        assert_eq!(quota.acquire(true), None, "a timeout retry costs 10");
        assert_eq!(quota.acquire(false), Some(5));
    }

    #[test]
    fn successes_never_fill_the_bucket_past_full() {
        let quota = RetryQuota::default();
        for _ in 0..10 {
            quota.succeeded(Some(RETRY_TIMEOUT_COST));
        }
        assert_eq!(quota.left(), INITIAL_RETRY_TOKENS);
        assert_eq!(quota.acquire(true), Some(10));
        assert_eq!(quota.left(), INITIAL_RETRY_TOKENS - 10);
    }
}
