//! The one retry loop. API calls and token requests both run through [`drive`]: a failure
//! is retried here and nowhere else, so retries never stack, and the count and time it
//! reports are those of the whole call.
//!
//! Each turn: check the caller's deadline, make one attempt, and act on its verdict:
//! finish, send again at once (a 401 with a renewed token, once), or wait and retry if the
//! policy, the deadline and the client's retry quota all allow it.

use std::future::Future;
use std::time::Duration;

use super::policy::RetryPolicy;
use super::quota::RetryQuota;
use crate::clock::Clock;
use crate::deadline;

/// What the loop needs: the policy, the client's quota, its clock, and a seed for jitter.
pub(crate) struct Retrying<'a> {
    pub policy: &'a RetryPolicy,
    pub quota: &'a RetryQuota,
    pub clock: &'a dyn Clock,
    pub seed: u64,
}

/// One attempt's verdict, from the caller's classifier.
pub(crate) enum Verdict<T, E> {
    /// The call ends with this.
    Done(Result<T, E>),
    /// Transient: may be sent again, no sooner than `retry_after` if the service said.
    Retry {
        error: E,
        retry_after: Option<Duration>,
        timeout: bool,
    },
    /// Send again now, outside the policy's count (a 401 after the token was renewed);
    /// allowed once per call.
    Replay(E),
}

/// Why the loop gave up.
pub(crate) enum Stop<E> {
    /// The last attempt's error.
    Failed(E),
    /// The caller's deadline left no time for a first or a next attempt.
    Deadline,
}

/// What the loop tells each attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn {
    /// 1 for the first send of the call.
    pub number: u32,
    /// The time left before the caller's deadline, to bound the attempt's own timeout.
    pub left: Option<Duration>,
    /// Whether the call has already replayed once (a second 401 ends it).
    pub replayed: bool,
}

/// What the whole call cost: sends, the first included, and the time from the first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally {
    pub attempts: u32,
    pub elapsed: Duration,
}

/// Runs `attempt` until its verdict ends the call.
pub(crate) async fn drive<T, E, F, Fut>(
    with: Retrying<'_>,
    mut attempt: F,
) -> (Result<T, Stop<E>>, Tally)
where
    F: FnMut(Turn) -> Fut,
    Fut: Future<Output = Verdict<T, E>>,
{
    let Retrying {
        policy,
        quota,
        clock,
        seed,
    } = with;
    let started = clock.now();
    let deadline = deadline::current();
    let mut backoff = policy.backoff(seed);
    let mut jitter = fastrand::Rng::with_seed(seed.rotate_left(17));
    let mut tally = Tally {
        attempts: 0,
        elapsed: Duration::ZERO,
    };
    let mut replayed = false;
    let mut last_retry_cost = None;
    loop {
        let left = deadline.map(|d| deadline::remaining(d, clock.now()));
        if left == Some(Duration::ZERO) {
            tally.elapsed = clock.now() - started;
            return (Err(Stop::Deadline), tally);
        }
        tally.attempts += 1;
        let verdict = attempt(Turn {
            number: tally.attempts,
            left,
            replayed,
        })
        .await;
        let now = clock.now();
        tally.elapsed = now - started;
        let (error, retry_after, timeout) = match verdict {
            Verdict::Done(result) => {
                if result.is_ok() {
                    quota.succeeded(last_retry_cost);
                }
                return (result.map_err(Stop::Failed), tally);
            }
            Verdict::Replay(error) if replayed => return (Err(Stop::Failed(error)), tally),
            Verdict::Replay(_) => {
                replayed = true;
                tracing::debug!(
                    attempt = tally.attempts,
                    "replaying once with a renewed token"
                );
                continue;
            }
            Verdict::Retry {
                error,
                retry_after,
                timeout,
            } => (error, retry_after, timeout),
        };
        let give_up = |error| (Err(Stop::Failed(error)), tally);
        let Some(backoff_wait) = backoff.next() else {
            return give_up(error);
        };
        let wait = match retry_after {
            Some(asked) if asked > policy.max_retry_after => {
                tracing::debug!(
                    retry_after_s = asked.as_secs(),
                    "Retry-After is past the policy's cap; not waiting"
                );
                return give_up(error);
            }
            Some(asked) => policy.retry_after_wait(asked, jitter.f64()),
            None => backoff_wait,
        };
        let left = deadline.map(|d| deadline::remaining(d, now));
        if !policy.retry_fits(now - started, wait, left) {
            return give_up(error);
        }
        let Some(cost) = quota.acquire(timeout) else {
            tracing::debug!(
                attempt = tally.attempts,
                "the client's retry quota is spent; not retrying"
            );
            return give_up(error);
        };
        last_retry_cost = Some(cost);
        tracing::debug!(
            attempt = tally.attempts,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        clock.sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;

    fn fast() -> RetryPolicy {
        RetryPolicy::default()
            .with_initial_backoff(Duration::ZERO)
            .with_max_backoff(Duration::ZERO)
    }

    async fn run(
        policy: &RetryPolicy,
        quota: &RetryQuota,
        mut verdicts: Vec<Verdict<u32, &'static str>>,
    ) -> (Result<u32, Stop<&'static str>>, Tally, usize) {
        let total = verdicts.len();
        verdicts.reverse();
        let with = Retrying {
            policy,
            quota,
            clock: &TokioClock,
            seed: 7,
        };
        let (result, tally) = drive(with, |_| {
            let next = verdicts
                .pop()
                .unwrap_or(Verdict::Done(Err("script ran out")));
            async move { next }
        })
        .await;
        let left = verdicts.len();
        (result, tally, total - left)
    }

    fn retry() -> Verdict<u32, &'static str> {
        Verdict::Retry {
            error: "503",
            retry_after: None,
            timeout: false,
        }
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_up_to_max_attempts_and_counted() {
        let quota = RetryQuota::default();
        let (result, tally, used) = run(
            &fast(),
            &quota,
            vec![retry(), retry(), retry(), retry(), retry()],
        )
        .await;
        assert!(matches!(result, Err(Stop::Failed("503"))));
        assert_eq!((tally.attempts, used), (4, 4));
        assert_eq!(quota.left(), 500 - 3 * 5);
    }

    #[tokio::test]
    async fn a_success_after_retries_refunds_its_last_retry() {
        let quota = RetryQuota::default();
        let (result, tally, _) = run(&fast(), &quota, vec![retry(), Verdict::Done(Ok(1))]).await;
        assert!(matches!(result, Ok(1)));
        assert_eq!(tally.attempts, 2);
        assert_eq!(quota.left(), 500);
    }

    #[tokio::test]
    async fn a_replay_is_allowed_once_and_outside_the_count() {
        let quota = RetryQuota::default();
        let policy = fast().with_max_attempts(1);
        let (result, tally, _) = run(
            &policy,
            &quota,
            vec![Verdict::Replay("401"), Verdict::Replay("401 again")],
        )
        .await;
        assert!(matches!(result, Err(Stop::Failed("401 again"))));
        assert_eq!(tally.attempts, 2);
    }

    #[tokio::test]
    async fn a_spent_quota_stops_retries_and_a_long_retry_after_is_not_waited() {
        let quota = RetryQuota::default();
        while quota.acquire(false).is_some() {}
        let (_, tally, _) = run(&fast(), &quota, vec![retry(), retry()]).await;
        assert_eq!(tally.attempts, 1);
        let quota = RetryQuota::default();
        let long = Verdict::Retry {
            error: "429",
            retry_after: Some(Duration::from_secs(3600)),
            timeout: false,
        };
        let (result, tally, _) = run(&fast(), &quota, vec![long, retry()]).await;
        assert!(matches!(result, Err(Stop::Failed("429"))));
        assert_eq!(tally.attempts, 1);
    }

    #[tokio::test]
    async fn a_passed_deadline_sends_nothing() {
        let quota = RetryQuota::default();
        let policy = fast();
        let past = tokio::time::Instant::now();
        let (result, tally, used) =
            deadline::with_deadline(past, run(&policy, &quota, vec![retry()])).await;
        assert!(matches!(result, Err(Stop::Deadline)));
        assert_eq!((tally.attempts, used), (0, 0));
    }
}
