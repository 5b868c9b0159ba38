//! The poll loop every wait shares (a usage query's execution, an aggregates query job):
//! the schedule of the [`PollPolicy`](crate::PollPolicy), the deadline, progress events,
//! absorbing transient failures and rate limits. What an answer means is the caller's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use usage_client::{Clock, UsageError};

use crate::error::Error;
use crate::policy::PollPolicy;

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollStatus {
    /// `Queued` (aggregates query jobs): not started yet; polling goes on.
    Queued,
    /// `Running`.
    Running,
    /// `Complete` (or a job's `Succeeded`): the wait returns the result.
    Complete,
    /// `Failed`: the wait returns `FailureState` (or `JobFailed`).
    Failed,
    /// `Cancelled` (aggregates query jobs): the wait returns `JobCancelled`.
    Cancelled,
    /// A `queryStatus` this version does not list; polling goes on.
    Unlisted(String),
    /// No `queryStatus` in the answer; polling goes on.
    Missing,
    /// The poll was rate limited; the next one waits at least `Retry-After`.
    RateLimited,
    /// The poll failed in a way a later poll may not (a broken or garbled answer, a 5xx);
    /// polling goes on, backed off, for the policy's `failure_budget` from the first
    /// failed poll of the run.
    Transient(String),
    /// The poll failed and ended the wait (`Error::Poll`).
    Error(String),
}

/// How close to `max_wait` a last poll is still sent: a poll needs time to be answered,
/// so one is sent no later than this before the deadline (or a tenth of `max_wait`, if
/// that is less), and the wait ends when less is left.
pub const LAST_POLL_ROOM: Duration = Duration::from_millis(100);

/// How long past the deadline the backstop timer lets a poll run.
const BACKSTOP_GRACE: Duration = Duration::from_millis(50);

/// One poll, as reported to a progress callback. Read its fields; new ones may come in a
/// minor release.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollEvent {
    /// The execution (or job) polled.
    pub execution_id: String,
    /// 1 for the first poll.
    pub poll: u32,
    /// Since the wait began.
    pub elapsed: Duration,
    /// What the poll found.
    pub status: PollStatus,
    /// The wait before the next poll (zero when this poll ended the wait).
    pub next_delay: Duration,
}

/// What an answer means for the wait.
pub(crate) enum Verdict<T> {
    /// Keep polling.
    Continue(PollStatus),
    /// The wait returns this answer.
    Done(T),
    /// The wait fails with this error (the query or job ended badly).
    Fail(PollStatus, Error),
}

/// Polls `fetch` until `judge` says the wait is over, or the policy's `max_wait` passes.
///
/// `max_wait` bounds the whole wait: each poll runs under
/// [`usage_client::with_deadline`], so the client's own retries and per-attempt timeouts
/// end at the deadline too.
pub(crate) async fn until_done<T, F, Fut>(
    clock: &Arc<dyn Clock>,
    policy: &PollPolicy,
    id: &str,
    mut on_poll: impl FnMut(&PollEvent),
    mut fetch: F,
    judge: impl Fn(T) -> Verdict<T>,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, UsageError>>,
{
    let mut wait = Wait::new(clock.as_ref(), policy, id);
    loop {
        let left = wait
            .deadline
            .map(|d| d.saturating_duration_since(clock.now()));
        if left.is_some_and(|left| left <= wait.room) {
            return Err(wait.exceeded());
        }
        // The last wait is cut short so that one more poll fits before the deadline.
        clock
            .sleep(left.map_or(wait.delay, |left| wait.delay.min(left - wait.room)))
            .await;
        wait.polls += 1;
        let answer = within(clock.as_ref(), wait.deadline, fetch()).await;
        let (status, step) = wait.step(answer, &judge);
        let event = PollEvent {
            execution_id: id.to_string(),
            poll: wait.polls,
            elapsed: clock.now() - wait.started,
            status,
            next_delay: match &step {
                Step::Again(delay) => *delay,
                Step::End(_) => Duration::ZERO,
            },
        };
        tracing::debug!(
            execution_id = %event.execution_id,
            poll = event.poll,
            status = ?event.status,
            "usage query poll"
        );
        on_poll(&event);
        match step {
            Step::Again(delay) => wait.delay = delay,
            Step::End(result) => return result,
        }
    }
}

/// What one poll's answer decides.
enum Step<T> {
    /// Poll again after this long.
    Again(Duration),
    /// The wait is over, with this result.
    End(Result<T, Error>),
}

/// A wait's state between polls: its clock and deadline, its schedule, and what the
/// failures so far have been.
struct Wait<'a> {
    clock: &'a dyn Clock,
    policy: &'a PollPolicy,
    id: &'a str,
    started: tokio::time::Instant,
    /// `None`: a max_wait past the clock's range, i.e. no deadline.
    deadline: Option<tokio::time::Instant>,
    /// The time kept free before the deadline for the last poll.
    room: Duration,
    /// The schedule's wait goes on growing through failures and rate limits, but their
    /// longer waits are not carried into it: once the service answers again, the polls
    /// follow the schedule, not an outage's backoff.
    schedule: Duration,
    /// The wait before the next poll.
    delay: Duration,
    polls: u32,
    /// A results GET is safe to repeat, so failed polls are absorbed; a run of them that
    /// outlasts the failure budget ends the wait rather than hiding until `max_wait`.
    failing: Option<FailingRun>,
    last_error: Option<UsageError>,
}

impl<'a> Wait<'a> {
    fn new(clock: &'a dyn Clock, policy: &'a PollPolicy, id: &'a str) -> Self {
        let started = clock.now();
        Self {
            clock,
            policy,
            id,
            started,
            deadline: started.checked_add(policy.max_wait),
            room: LAST_POLL_ROOM.min(policy.max_wait / 10),
            schedule: policy.initial_delay,
            delay: policy.initial_delay,
            polls: 0,
            failing: None,
            last_error: None,
        }
    }

    /// `max_wait` has passed.
    fn exceeded(&mut self) -> Error {
        Error::ExceededMaxWait {
            execution_id: self.id.to_string(),
            elapsed: self.clock.now() - self.started,
            polls: self.polls,
            last_error: self.last_error.take().map(Box::new),
        }
    }

    /// A poll that ends the wait with `source`.
    fn fatal<T>(&self, source: UsageError) -> Step<T> {
        Step::End(Err(Error::Poll {
            execution_id: self.id.to_string(),
            polls: self.polls,
            elapsed: self.clock.now() - self.started,
            source,
        }))
    }

    /// What `answer` shows, and what it decides.
    fn step<T>(
        &mut self,
        answer: Result<T, UsageError>,
        judge: impl Fn(T) -> Verdict<T>,
    ) -> (PollStatus, Step<T>) {
        self.schedule = self.policy.next_delay(self.schedule);
        let next = self.schedule;
        match answer {
            Ok(answer) => {
                self.failing = None;
                self.last_error = None;
                match judge(answer) {
                    Verdict::Continue(status) => {
                        if matches!(status, PollStatus::Unlisted(_) | PollStatus::Missing) {
                            tracing::info!(execution_id = %self.id, ?status, "unlisted or missing queryStatus; still polling");
                        }
                        (status, Step::Again(next))
                    }
                    Verdict::Done(answer) => (PollStatus::Complete, Step::End(Ok(answer))),
                    Verdict::Fail(status, error) => (status, Step::End(Err(error))),
                }
            }
            Err(UsageError::RateLimited {
                retry_after,
                body,
                correlation_id,
            }) => {
                let asked = retry_after.unwrap_or_default();
                let error = UsageError::RateLimited {
                    retry_after,
                    body,
                    correlation_id,
                };
                // A wait the deadline cannot hold is reported as what it is: a rate
                // limit, not "still running".
                let after_wait = self.clock.now().checked_add(asked);
                if self
                    .deadline
                    .is_some_and(|d| after_wait.is_none_or(|at| at > d))
                {
                    return (PollStatus::RateLimited, self.fatal(error));
                }
                self.last_error = Some(error);
                (PollStatus::RateLimited, Step::Again(next.max(asked)))
            }
            Err(source) if source.is_transient() || matches!(source, UsageError::Decode { .. }) => {
                let status = PollStatus::Transient(source.to_string());
                (status, self.failed(source, next))
            }
            Err(source) => (PollStatus::Error(source.to_string()), self.fatal(source)),
        }
    }

    /// A poll that failed and may be repeated: polled again, backed off, until the run of
    /// failures outlasts the failure budget.
    fn failed<T>(&mut self, source: UsageError, next: Duration) -> Step<T> {
        let now = self.clock.now();
        let run = self.failing.get_or_insert(FailingRun {
            since: now,
            polls: 0,
        });
        run.polls += 1;
        if now - run.since >= self.policy.failure_budget {
            return Step::End(Err(Error::PollsFailing {
                execution_id: self.id.to_string(),
                polls: self.polls,
                failed_polls: run.polls,
                failing_since: run.since - self.started,
                failing_for: now - run.since,
                source: Box::new(source),
            }));
        }
        tracing::info!(execution_id = %self.id, error = %source, failed_polls = run.polls, "poll failed; polling on");
        let delay = self.policy.next_delay_after_failure(next, run.polls);
        self.last_error = Some(source);
        Step::Again(delay)
    }
}

/// A run of failed polls with no answer between them.
struct FailingRun {
    /// When the first of them was answered.
    since: tokio::time::Instant,
    /// How many there have been.
    polls: u32,
}

/// One poll, bounded by the wait's deadline. The client stops its own retries and
/// attempts at the deadline; the timer here is a backstop for anything that does not
/// (a wait behind another task's token fetch).
async fn within<T>(
    clock: &dyn Clock,
    deadline: Option<tokio::time::Instant>,
    poll: impl Future<Output = Result<T, UsageError>>,
) -> Result<T, UsageError> {
    let Some(deadline) = deadline else {
        return poll.await;
    };
    let started = clock.now();
    let backstop = deadline.saturating_duration_since(started) + BACKSTOP_GRACE;
    match tokio::time::timeout(backstop, usage_client::with_deadline(deadline, poll)).await {
        Ok(answer) => answer,
        Err(_) => Err(UsageError::DeadlineExceeded {
            attempts: 1,
            elapsed: clock.now() - started,
        }),
    }
}
