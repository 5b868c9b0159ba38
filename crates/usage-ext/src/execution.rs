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
}

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

    /// [`wait`](Self::wait), calling `on_poll` after every poll.
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
        let mut delay = policy.initial_delay;
        let mut polls = 0u32;
        let mut failed_in_a_row = 0u32;
        loop {
            let elapsed = clock.now() - started;
            if elapsed + delay > policy.max_wait {
                return Err(Error::ExceededMaxWait {
                    execution_id: self.execution_id.clone(),
                    elapsed,
                    polls,
                });
            }
            clock.sleep(delay).await;
            polls += 1;
            let answer = self.fetch(queries).await;
            let mut next_delay = policy.next_delay(delay);
            if answer.is_ok() {
                failed_in_a_row = 0;
            }
            let (status, done) = match answer {
                Ok(result) => match &result.query_status {
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
                },
                Err(UsageError::RateLimited { retry_after, .. }) => {
                    next_delay = next_delay.max(retry_after.unwrap_or_default());
                    (PollStatus::RateLimited, None)
                }
                Err(source)
                    if failed_in_a_row < MAX_CONSECUTIVE_FAILED_POLLS
                        && (source.is_transient()
                            || matches!(source, UsageError::Decode { .. })) =>
                {
                    failed_in_a_row += 1;
                    tracing::info!(execution_id = %self.execution_id, error = %source, "poll failed; polling on");
                    (PollStatus::Transient(source.to_string()), None)
                }
                Err(source) => {
                    return Err(Error::Poll {
                        execution_id: self.execution_id.clone(),
                        polls,
                        source,
                    });
                }
            };
            let event = PollEvent {
                execution_id: self.execution_id.clone(),
                poll: polls,
                elapsed: clock.now() - started,
                status,
                next_delay: if done.is_some() {
                    Duration::ZERO
                } else {
                    next_delay
                },
            };
            tracing::debug!(
                execution_id = %event.execution_id,
                poll = event.poll,
                status = ?event.status,
                "usage query poll"
            );
            on_poll(&event);
            if let Some(done) = done {
                return done;
            }
            delay = next_delay;
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
