//! What a submit-then-poll can end in, besides rows. Every error after submission carries
//! the `executionId`, so the caller can resume or report it.

use std::time::Duration;

use usage_client::UsageError;
use usage_client::models::ApiUsageQueryResult;

use crate::validate::ValidationError;

/// Why a usage query did not produce rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Refused before any request was sent.
    #[error("invalid input, nothing was sent: {0}")]
    Invalid(#[from] ValidationError),
    /// The submission failed; no query was started (or none is known).
    #[error("submitting the usage query failed: {0}")]
    Submit(#[source] UsageError),
    /// The service accepted the submission but named no execution to poll.
    #[error("the service accepted the usage query but returned no executionId to poll")]
    MissingExecutionId,
    /// The query ended as `Failed`.
    #[error("usage query {execution_id} failed on the service side (queryStatus Failed)")]
    FailureState {
        /// The execution.
        execution_id: String,
        /// The body of the `Failed` answer.
        result: Box<ApiUsageQueryResult>,
    },
    /// The policy's `max_wait` passed first; the query may still complete.
    #[error(
        "usage query {execution_id} was still running after {:.1} s and {polls} polls; resume it later with its execution id",
        .elapsed.as_secs_f64()
    )]
    ExceededMaxWait {
        /// The execution, to resume with.
        execution_id: String,
        /// How long the wait lasted.
        elapsed: Duration,
        /// How many result requests were made.
        polls: u32,
    },
    /// A poll failed for good (after the client's retries).
    #[error("polling usage query {execution_id} failed after {polls} polls: {source}")]
    Poll {
        /// The execution, to resume with.
        execution_id: String,
        /// How many result requests were made.
        polls: u32,
        /// What the client reported.
        #[source]
        source: UsageError,
    },
}

impl Error {
    /// The execution this error concerns, when one was started.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Error::FailureState { execution_id, .. }
            | Error::ExceededMaxWait { execution_id, .. }
            | Error::Poll { execution_id, .. } => Some(execution_id),
            _ => None,
        }
    }
}
