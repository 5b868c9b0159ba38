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
#[derive(Debug, Clone, PartialEq)]
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
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(60),
            factor: 1.95,
            max_delay: Duration::from_secs(10),
            max_wait: Duration::from_secs(15 * 60),
        }
    }
}

impl PollPolicy {
    /// The wait after `previous`.
    pub fn next_delay(&self, previous: Duration) -> Duration {
        previous.mul_f64(self.factor.max(1.0)).min(self.max_delay)
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
        let flat = PollPolicy {
            factor: 0.5,
            ..policy
        };
        assert_eq!(
            flat.next_delay(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }
}
