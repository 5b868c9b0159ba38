//! How often a running query is polled, and for how long.

use std::time::Duration;

/// The poll schedule: wait `initial_delay`, poll, then multiply the wait by `factor` up to
/// `max_delay`, and give up once the next wait would end past `max_wait`.
///
/// The defaults (60 ms, x1.95, at most 10 s, 15 min) return a query that completes at
/// T = 0.3 s, 3 s or 30 s by 1.15 T + 0.2 s, with 3, 6 and 10 result GETs (BENCHMARKS.md
/// measures it). No geometric schedule can promise 1.15 T + 0.2 s for every T with at most
/// 12 GETs up to 30 s (that needs growth of at most 15 % per poll, or about 22 polls): just
/// after a poll the lag can reach the next wait, e.g. a query done at 2.7 s returns at
/// 3.4 s. The price of the early polls is two or three GETs that a real query rarely
/// answers with rows; a ten-minute query costs about 67 polls, one every 10 s. Callers polling many long queries against a tight rate
/// limit should raise `initial_delay` and `max_delay`. Polls need no jitter: each follows
/// its own query's schedule. A 429 on a poll pushes the next poll to at least its
/// `Retry-After`.
///
/// A poll that fails in a way a later one may not (a 5xx, a broken connection, a garbled
/// answer) does not end the wait: failures are absorbed for `failure_budget` (60 s) from
/// the first of a run of them, and each failed poll backs off (`failure_delay`, 1 s, then
/// doubling up to `max_delay`), so a minute of outage costs about ten GETs, never the
/// job. Each poll is still one request: nothing is retried under the poller.
///
/// Build one from the default with the `with_*` methods:
/// `PollPolicy::default().with_max_wait(Duration::from_secs(60))`. New settings may come in
/// a minor release, so the struct cannot be written as a literal outside this crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PollPolicy {
    /// The wait before the first poll.
    pub initial_delay: Duration,
    /// Each wait is the previous one times this (at least 1.0).
    pub factor: f64,
    /// The longest wait between two polls.
    pub max_delay: Duration,
    /// The longest the whole wait may take; past it the wait fails with
    /// `ExceededMaxWait`, and the execution can be resumed.
    pub max_wait: Duration,
    /// How long polls may keep failing (5xx, broken connections, garbled answers), from the
    /// first failed poll of a run to the last, before the wait gives up with
    /// `PollsFailing`. A poll that answers resets it.
    pub failure_budget: Duration,
    /// The wait after the first failed poll of a run; it doubles with each further failed
    /// poll, up to the larger of `max_delay` and this.
    pub failure_delay: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(60),
            factor: 1.95,
            max_delay: Duration::from_secs(10),
            max_wait: Duration::from_secs(15 * 60),
            failure_budget: Duration::from_secs(60),
            failure_delay: Duration::from_secs(1),
        }
    }
}

/// A poll policy that cannot work; [`UsageQueries::with_policy`](crate::UsageQueries::with_policy)
/// refuses it before any request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid poll policy: {0}")]
pub struct InvalidPolicy(String);

impl InvalidPolicy {
    pub(crate) fn new(why: String) -> Self {
        Self(why)
    }
}

impl PollPolicy {
    /// With `delay` before the first poll.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// With each wait `factor` times the previous one.
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// With `delay` as the longest wait between two polls.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// With `wait` as the longest the whole wait may take.
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// With `budget` as how long polls may keep failing before the wait gives up.
    pub fn with_failure_budget(mut self, budget: Duration) -> Self {
        self.failure_budget = budget;
        self
    }

    /// With `delay` as the wait after the first failed poll of a run.
    pub fn with_failure_delay(mut self, delay: Duration) -> Self {
        self.failure_delay = delay;
        self
    }

    /// Checks that the schedule can work: `factor` finite and at least 1.0, `max_delay` at
    /// least `initial_delay`, `max_wait` above zero. (Zero delays are allowed: each poll is
    /// a request, so it is not a busy loop, but against the real service it spends the
    /// rate limit; benchmarks use it against the fake.)
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        let fail = |why: String| Err(InvalidPolicy(why));
        if !self.factor.is_finite() || self.factor < 1.0 {
            return fail(format!(
                "factor must be a finite number of at least 1.0, got {}",
                self.factor
            ));
        }
        if self.initial_delay > self.max_delay {
            return fail(format!(
                "initial_delay ({:?}) is longer than max_delay ({:?})",
                self.initial_delay, self.max_delay
            ));
        }
        if self.max_wait.is_zero() {
            return fail("max_wait must be above zero".into());
        }
        Ok(())
    }

    /// The wait after the `failed`-th failed poll in a run (1 for the first): at least the
    /// schedule's `next`, else `failure_delay` doubled for each failure after the first,
    /// capped at the larger of `max_delay` and `failure_delay`. Never panics.
    pub fn next_delay_after_failure(&self, next: Duration, failed: u32) -> Duration {
        let cap = self.max_delay.max(self.failure_delay);
        let doubled = self
            .failure_delay
            .checked_mul(
                1u32.checked_shl(failed.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .unwrap_or(Duration::MAX);
        doubled.min(cap).max(next)
    }

    /// The wait after `previous`. Never panics, whatever the fields hold: a factor that is
    /// not a finite number of at least 1.0 counts as 1.0, and the product is capped.
    pub fn next_delay(&self, previous: Duration) -> Duration {
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        Duration::try_from_secs_f64(previous.as_secs_f64() * factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_geometrically_to_the_cap() {
        let policy = PollPolicy {
            initial_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(5),
            ..PollPolicy::default()
        };
        let mut d = policy.initial_delay;
        let mut seen = vec![d.as_secs()];
        for _ in 0..4 {
            d = policy.next_delay(d);
            seen.push(d.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 5, 5]);
        let failing: Vec<_> = (1..=6)
            .map(|n| policy.next_delay_after_failure(Duration::ZERO, n).as_secs())
            .collect();
        assert_eq!(failing, [1, 2, 4, 5, 5, 5], "backed off to the larger cap");
        assert_eq!(
            policy.next_delay_after_failure(Duration::from_secs(3), 1),
            Duration::from_secs(3),
            "never sooner than the schedule"
        );
        assert_eq!(
            policy.next_delay_after_failure(Duration::ZERO, u32::MAX),
            Duration::from_secs(5)
        );
        let flat = PollPolicy {
            factor: 0.5,
            ..policy
        };
        assert_eq!(
            flat.next_delay(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn policies_that_cannot_work_are_refused_and_never_panic() {
        assert_eq!(PollPolicy::default().validate(), Ok(()));
        for factor in [f64::INFINITY, f64::NAN, 0.5, -1.0] {
            let policy = PollPolicy {
                factor,
                max_delay: Duration::MAX,
                ..PollPolicy::default()
            };
            let err = policy.validate().unwrap_err();
            assert!(err.to_string().contains("factor"), "{err}");
            assert!(policy.next_delay(Duration::MAX) <= Duration::MAX);
            assert_eq!(
                policy.next_delay(Duration::from_secs(3)),
                Duration::from_secs(3)
            );
        }
        let inverted = PollPolicy {
            initial_delay: Duration::from_secs(20),
            ..PollPolicy::default()
        };
        assert!(
            inverted
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_delay")
        );
        let never = PollPolicy {
            max_wait: Duration::ZERO,
            ..PollPolicy::default()
        };
        assert!(
            never
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_wait")
        );
        let zero = PollPolicy {
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            ..PollPolicy::default()
        };
        assert_eq!(zero.validate(), Ok(()), "benchmarks poll without waits");
        let huge = PollPolicy {
            factor: 1e300,
            max_delay: Duration::MAX,
            ..PollPolicy::default()
        };
        assert_eq!(huge.next_delay(Duration::from_secs(1)), Duration::MAX);
    }
}
