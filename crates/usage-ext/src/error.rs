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
    /// The submission failed. When the source is
    /// [`UsageError::OutcomeUnknown`] a query may have started on the service; otherwise
    /// none did. `source.is_transient()` says whether submitting again is safe and may work.
    #[error("submitting the usage query failed: {0}")]
    Submit(#[source] UsageError),
    /// The service accepted the submission but named no execution to poll.
    #[error("the service accepted the usage query but returned no executionId to poll")]
    MissingExecutionId,
    /// The service accepted the submission but named an execution that cannot be polled
    /// (`.`, `..`, blank): it would address another resource.
    #[error(
        "the service accepted the usage query but returned executionId {execution_id:?}, which cannot be polled safely"
    )]
    UnusableExecutionId {
        /// The id the service returned.
        execution_id: String,
    },
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
        "usage query {execution_id} did not finish within max_wait: {} after {:.1} s and {polls} polls; resume it later with its execution id",
        .last_error.as_ref().map_or_else(|| "still running".to_string(), |e| format!("the last poll failed ({e})")),
        .elapsed.as_secs_f64()
    )]
    ExceededMaxWait {
        /// The execution, to resume with.
        execution_id: String,
        /// How long the wait lasted.
        elapsed: Duration,
        /// How many result requests were made.
        polls: u32,
        /// Why the last poll had no status, if it failed (a timeout at the deadline, a
        /// transient error); `None` when it said the query was still running.
        last_error: Option<Box<UsageError>>,
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
