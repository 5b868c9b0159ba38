//! How often and after how long a failed request is sent again: the backoff strategy,
//! apart from the classifier (classify.rs) that says whether it may be.
//!
//! GETs are safe to repeat: they retry connection failures, timeouts, 408, 429, 500, 502,
//! 503 and 504. A POST creates a new server-side query each time it is accepted, so it is
//! repeated only when the service provably did not act on it: a 429 (refused before
//! processing) or a failure to connect (nothing was sent). A POST that timed out or got a
//! 5xx may have started a query; it is returned to the caller as `OutcomeUnknown`, never
//! replayed. (The official Python SDK replays every POST up to ten times; a usage query
//! replayed that way runs ten times.)
//!
//! "Failure to connect" is only proof that nothing was sent because redirects are never
//! followed: a connect error of a redirect target would come after the POST was delivered.
//!
//! When the service names a wait (`Retry-After`), that wait is used, plus a small jitter,
//! instead of the exponential backoff: waiting longer wastes the caller's time, waiting
//! less earns another 429.

use std::time::Duration;

use backon::BackoffBuilder as _;

/// How transient failures are retried. [`RetryPolicy::default`] suits the real service;
/// [`RetryPolicy::disabled`] sends every request exactly once.
///
/// Build one from the default with the `with_*` methods:
/// `RetryPolicy::default().with_max_attempts(3)`. New settings may come in a minor
/// release, so the struct cannot be written as a literal outside this crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Sends of one request at most, the first included; `1` turns retries off.
    pub max_attempts: u32,
    /// The first backoff; each next one doubles, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The largest backoff between two attempts (before jitter).
    pub max_backoff: Duration,
    /// No retry is started if it would end later than this after the first send.
    pub max_elapsed: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails at once with
    /// the rate-limit error, which carries the wait the service asked for.
    pub max_retry_after: Duration,
    /// Full jitter: each backoff is drawn uniformly from zero to its nominal value, so
    /// many clients that failed together do not retry together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Every request is sent once; failures go straight to the caller.
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// With at most `n` sends of one request, the first included (`1`: no retries).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// With `initial` as the first backoff.
    pub fn with_initial_backoff(mut self, initial: Duration) -> Self {
        self.initial_backoff = initial;
        self
    }

    /// With `max` as the longest backoff.
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// With no retry started that would end later than `max` after the first send.
    pub fn with_max_elapsed(mut self, max: Duration) -> Self {
        self.max_elapsed = max;
        self
    }

    /// With `Retry-After` waits longer than `max` not waited for.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// With full jitter on (the default) or off (exact waits, for tests).
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Refuses a policy that cannot work, before any request.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1 (1 sends each request once)".into());
        }
        if self.initial_backoff > self.max_backoff {
            return Err(format!(
                "initial_backoff ({:?}) is longer than max_backoff ({:?})",
                self.initial_backoff, self.max_backoff
            ));
        }
        Ok(())
    }

    /// The wait before the next attempt when the service asked for `asked`: that long,
    /// plus a jitter of at most a tenth of it and at most 100 ms (`unit` in 0..1), so
    /// clients told the same wait do not return in the same instant.
    pub(crate) fn retry_after_wait(&self, asked: Duration, unit: f64) -> Duration {
        let spread = (asked / 10).min(MAX_RETRY_AFTER_JITTER);
        if self.jitter {
            asked.saturating_add(spread.mul_f64(unit.clamp(0.0, 1.0)))
        } else {
            asked
        }
    }

    /// Whether a retry that waits `wait` may start, `spent` after the first send and with
    /// `left` before the caller's deadline: it must end within `max_elapsed` and before the
    /// deadline.
    pub(crate) fn retry_fits(
        &self,
        spent: Duration,
        wait: Duration,
        left: Option<Duration>,
    ) -> bool {
        spent.saturating_add(wait) <= self.max_elapsed && left.is_none_or(|left| wait < left)
    }

    pub(crate) fn backoff(&self, seed: u64) -> Backoff {
        Backoff {
            nominal: backon::ExponentialBuilder::default()
                .with_min_delay(self.initial_backoff)
                .with_max_delay(self.max_backoff)
                .with_max_times(self.max_attempts.saturating_sub(1) as usize)
                .build(),
            rng: fastrand::Rng::with_seed(seed),
            jitter: self.jitter,
        }
    }
}

/// The most jitter added to a wait the service named.
const MAX_RETRY_AFTER_JITTER: Duration = Duration::from_millis(100);

/// The backoff sequence of one request: backon's capped exponential series, with full
/// jitter applied from our own seeded generator so tests can fix it.
pub(crate) struct Backoff {
    nominal: backon::ExponentialBackoff,
    rng: fastrand::Rng,
    jitter: bool,
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let nominal = self.nominal.next()?;
        Some(if self.jitter {
            nominal.mul_f64(self.rng.f64())
        } else {
            nominal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_wait_gets_at_most_a_tenth_or_100_ms_of_jitter() {
        let policy = RetryPolicy::default();
        let s = Duration::from_secs;
        assert_eq!(
            policy.retry_after_wait(Duration::ZERO, 0.99),
            Duration::ZERO
        );
        assert_eq!(
            policy.retry_after_wait(s(1), 1.0),
            Duration::from_millis(1_100)
        );
        assert_eq!(
            policy.retry_after_wait(s(60), 1.0),
            Duration::from_millis(60_100)
        );
        assert_eq!(
            policy.retry_after_wait(Duration::from_millis(500), 1.0),
            Duration::from_millis(550)
        );
        assert_eq!(policy.retry_after_wait(Duration::MAX, 1.0), Duration::MAX);
        let exact = RetryPolicy {
            jitter: false,
            ..policy
        };
        assert_eq!(exact.retry_after_wait(s(3), 0.7), s(3));
    }

    #[test]
    fn policies_that_cannot_work_are_refused() {
        assert!(RetryPolicy::default().validate().is_ok());
        let none = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(none.validate().unwrap_err().contains("max_attempts"));
        let inverted = RetryPolicy {
            initial_backoff: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        assert!(inverted.validate().unwrap_err().contains("max_backoff"));
    }

    #[test]
    fn backoff_is_capped_exponential_and_bounded() {
        let policy = RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            jitter: false,
            ..RetryPolicy::default()
        };
        let waits: Vec<u64> = policy.backoff(1).map(|d| d.as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(RetryPolicy::disabled().backoff(1).count(), 0);
    }

    #[test]
    fn full_jitter_stays_within_the_nominal_wait_and_follows_the_seed() {
        let policy = RetryPolicy {
            max_attempts: 50,
            ..RetryPolicy::default()
        };
        let nominal: Vec<Duration> = RetryPolicy {
            jitter: false,
            ..policy.clone()
        }
        .backoff(0)
        .collect();
        let a: Vec<Duration> = policy.backoff(42).collect();
        let b: Vec<Duration> = policy.backoff(42).collect();
        assert_eq!(a, b, "same seed, same waits");
        assert_ne!(a, policy.backoff(43).collect::<Vec<_>>());
        assert!(a.iter().zip(&nominal).all(|(j, n)| j <= n));
        assert!(a.iter().zip(&nominal).any(|(j, n)| j < n));
    }
}
