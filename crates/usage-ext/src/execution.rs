//! A submitted query, and waiting for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use usage_client::models::{ApiUsageQueryResult, QueryStatus};
use usage_client::{ClientInfo as _, UsageError};

use crate::error::Error;
use crate::queries::UsageQueries;
use crate::validate;

/// A submitted usage query: its `executionId`, and the OAuth client id for client
/// queries. Serializable, so it can be saved and the wait resumed after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The id the service returned on submission.
    pub execution_id: String,
    /// Set for OAuth client queries and summaries, whose results live under the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStatus {
    /// `Running`.
    Running,
    /// `Complete`: the wait returns the result.
    Complete,
    /// `Failed`: the wait returns `FailureState`.
    Failed,
    /// A `queryStatus` this version does not list (e.g. `Queued`); polling goes on.
    Unlisted(String),
    /// No `queryStatus` in the answer; polling goes on.
    Missing,
    /// The poll was rate limited; the next one waits at least `Retry-After`.
    RateLimited,
    /// The poll failed in a way a later poll may not (a broken or garbled answer, a 5xx
    /// after the client's retries); polling goes on, up to
    /// [`MAX_CONSECUTIVE_FAILED_POLLS`] in a row.
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

/// Failed polls in a row that a wait absorbs before it returns `Error::Poll`: a results
/// GET is safe to repeat, but a persistent failure must not hide until `max_wait`.
pub const MAX_CONSECUTIVE_FAILED_POLLS: u32 = 3;

/// One poll, as reported to a progress callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollEvent {
    /// The execution polled.
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

impl Execution {
    /// An organization query's execution (`postUsageQuery`).
    pub fn organization(execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            client_id: None,
        }
    }

    /// An OAuth client query's or summary's execution.
    pub fn client(client_id: impl Into<String>, execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            client_id: Some(client_id.into()),
        }
    }

    /// Polls until the query is `Complete` (its result) or `Failed`, or the policy's
    /// `max_wait` passes. Dropping the future stops polling; nothing is left running.
    pub async fn wait(&self, queries: &UsageQueries) -> Result<ApiUsageQueryResult, Error> {
        self.wait_with(queries, |_| {}).await
    }

    /// [`wait`](Self::wait), calling `on_poll` after every poll, the last one included.
    ///
    /// `max_wait` bounds the whole wait: each poll runs under
    /// [`usage_client::with_deadline`], so the client's own retries and per-attempt
    /// timeouts end at the deadline too.
    pub async fn wait_with(
        &self,
        queries: &UsageQueries,
        mut on_poll: impl FnMut(&PollEvent),
    ) -> Result<ApiUsageQueryResult, Error> {
        validate::id("executionId", &self.execution_id)?;
        if let Some(client_id) = &self.client_id {
            validate::id("clientId", client_id)?;
        }
        let clock = queries.client().inner().clock().clone();
        let policy = queries.policy();
        let started = clock.now();
        // `None`: a max_wait past the clock's range, i.e. no deadline.
        let deadline = started.checked_add(policy.max_wait);
        let room = LAST_POLL_ROOM.min(policy.max_wait / 10);
        let mut delay = policy.initial_delay;
        let mut polls = 0u32;
        let mut failed_in_a_row = 0u32;
        let mut last_error: Option<UsageError> = None;
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(clock.now()));
            if left.is_some_and(|left| left <= room) {
                return Err(Error::ExceededMaxWait {
                    execution_id: self.execution_id.clone(),
                    elapsed: clock.now() - started,
                    polls,
                    last_error: last_error.map(Box::new),
                });
            }
            // The last wait is cut short so that one more poll fits before the deadline.
            clock
                .sleep(left.map_or(delay, |left| delay.min(left - room)))
                .await;
            polls += 1;
            let answer = self.fetch_within(queries, deadline).await;
            let mut next_delay = policy.next_delay(delay);
            let mut fatal = None;
            let (status, done) = match answer {
                Ok(result) => {
                    failed_in_a_row = 0;
                    last_error = None;
                    match &result.query_status {
                        Some(QueryStatus::Complete) => (PollStatus::Complete, Some(Ok(result))),
                        Some(QueryStatus::Failed) => (
                            PollStatus::Failed,
                            Some(Err(Error::FailureState {
                                execution_id: self.execution_id.clone(),
                                result: Box::new(result),
                            })),
                        ),
                        Some(QueryStatus::Running) => (PollStatus::Running, None),
                        Some(other) => {
                            tracing::info!(
                                execution_id = %self.execution_id,
                                query_status = other.as_str(),
                                "unlisted queryStatus; still polling"
                            );
                            (PollStatus::Unlisted(other.as_str().to_string()), None)
                        }
                        None => {
                            tracing::warn!(execution_id = %self.execution_id, "answer without queryStatus; still polling");
                            (PollStatus::Missing, None)
                        }
                    }
                }
                Err(UsageError::RateLimited {
                    retry_after,
                    body,
                    correlation_id,
                }) => {
                    let asked = retry_after.unwrap_or_default();
                    next_delay = next_delay.max(asked);
                    let error = UsageError::RateLimited {
                        retry_after,
                        body,
                        correlation_id,
                    };
                    // A wait the deadline cannot hold is reported as what it is: a rate
                    // limit, not "still running".
                    let after_wait = clock.now().checked_add(asked);
                    if deadline.is_some_and(|d| after_wait.is_none_or(|at| at > d)) {
                        fatal = Some(error);
                    } else {
                        last_error = Some(error);
                    }
                    (PollStatus::RateLimited, None)
                }
                Err(source)
                    if failed_in_a_row < MAX_CONSECUTIVE_FAILED_POLLS
                        && (source.is_transient()
                            || matches!(source, UsageError::Decode { .. })) =>
                {
                    failed_in_a_row += 1;
                    tracing::info!(execution_id = %self.execution_id, error = %source, "poll failed; polling on");
                    let status = PollStatus::Transient(source.to_string());
                    last_error = Some(source);
                    (status, None)
                }
                Err(source) => {
                    let status = PollStatus::Error(source.to_string());
                    fatal = Some(source);
                    (status, None)
                }
            };
            let ends = done.is_some() || fatal.is_some();
            let event = PollEvent {
                execution_id: self.execution_id.clone(),
                poll: polls,
                elapsed: clock.now() - started,
                status,
                next_delay: if ends { Duration::ZERO } else { next_delay },
            };
            tracing::debug!(
                execution_id = %event.execution_id,
                poll = event.poll,
                status = ?event.status,
                "usage query poll"
            );
            on_poll(&event);
            if let Some(source) = fatal {
                return Err(Error::Poll {
                    execution_id: self.execution_id.clone(),
                    polls,
                    source,
                });
            }
            if let Some(done) = done {
                return done;
            }
            delay = next_delay;
        }
    }

    /// One poll, bounded by the wait's deadline. The client stops its own retries and
    /// attempts at the deadline; the timer here is a backstop for anything that does not
    /// (a wait behind another task's token fetch).
    async fn fetch_within(
        &self,
        queries: &UsageQueries,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<ApiUsageQueryResult, UsageError> {
        let Some(deadline) = deadline else {
            return self.fetch(queries).await;
        };
        let clock = queries.client().inner().clock();
        let started = clock.now();
        let backstop = deadline.saturating_duration_since(started) + BACKSTOP_GRACE;
        let poll = usage_client::with_deadline(deadline, self.fetch(queries));
        match tokio::time::timeout(backstop, poll).await {
            Ok(answer) => answer,
            Err(_) => Err(UsageError::DeadlineExceeded {
                attempts: 1,
                elapsed: clock.now() - started,
            }),
        }
    }

    async fn fetch(&self, queries: &UsageQueries) -> Result<ApiUsageQueryResult, UsageError> {
        let client = queries.client();
        let answer = match &self.client_id {
            None => {
                client
                    .get_usage_query_execution_id_results(&self.execution_id)
                    .await
            }
            Some(client_id) => {
                client
                    .get_oauth_client_usage_query_result(client_id, &self.execution_id)
                    .await
            }
        };
        Ok(answer?.into_inner())
    }
}
