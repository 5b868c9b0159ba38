//! What a submit-then-poll can end in, besides rows. Every error after submission carries
//! the `executionId`, so the caller can resume or report it.

use std::time::Duration;

use usage_client::UsageError;
use usage_client::models::{ApiUsageQueryResult, ErrorBody};

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
    /// The aggregates query job ended as `Failed`.
    #[error("aggregates query job {job_id} failed on the service side (queryStatus Failed){}", fmt_body(.error_body))]
    JobFailed {
        /// The job.
        job_id: String,
        /// The service's reason, when it gave one.
        error_body: Option<Box<ErrorBody>>,
    },
    /// The aggregates query job was `Cancelled`.
    #[error("aggregates query job {job_id} was cancelled on the service side{}", fmt_body(.error_body))]
    JobCancelled {
        /// The job.
        job_id: String,
        /// The service's reason, when it gave one.
        error_body: Option<Box<ErrorBody>>,
    },
    /// A page was asked of a job that has not `Succeeded` (a resumed [`Pages`](crate::Pages)
    /// of a job still running): wait for the job first.
    #[error(
        "aggregates query job {job_id} is {query_status}, not Succeeded: wait for it before paging"
    )]
    JobNotFinished {
        /// The job.
        job_id: String,
        /// The status the service reported.
        query_status: String,
    },
    /// The service refused the paging cursor (400 or 404 on a page asked with `after`).
    #[error(
        "aggregates query job {job_id} refused the cursor {cursor:?}: {source}; page again from a cursor this job gave, or from the start"
    )]
    InvalidCursor {
        /// The job.
        job_id: String,
        /// The cursor refused.
        cursor: String,
        /// What the client reported.
        #[source]
        source: Box<UsageError>,
    },
    /// A page of a job's rows could not be fetched (after retries); fetching it again
    /// resumes at the same cursor.
    #[error("fetching a page of aggregates query job {job_id} failed{}: {source}", .cursor.as_deref().map(|c| format!(" (after cursor {c:?})")).unwrap_or_default())]
    Page {
        /// The job.
        job_id: String,
        /// The cursor of the page (`None`: the first page).
        cursor: Option<String>,
        /// What the client reported.
        #[source]
        source: Box<UsageError>,
    },
    /// A request of the limits family failed (after the client's retries), or its answer
    /// cannot be paged on.
    #[error("the {operation} request failed: {source}")]
    Limits {
        /// The operation, by its operationId.
        operation: &'static str,
        /// What the client reported.
        #[source]
        source: Box<UsageError>,
    },
    /// The job of a window was stopped before it ended (its runtime shut down).
    #[error("the aggregates query job of window {window} was stopped before it ended")]
    WindowStopped {
        /// The window's days, `first/last`.
        window: String,
    },
    /// Polls kept failing (5xx, broken connections, garbled answers) for longer than the
    /// policy's `failure_budget`, with no answer between them. The job may still finish:
    /// resume the wait later with its id.
    #[error(
        "polling usage query {execution_id} kept failing: {failed_polls} polls in a row failed over {:.1} s, since {:.1} s into the wait ({polls} polls in all); the last: {source}; resume it later with its execution id",
        .failing_for.as_secs_f64(),
        .failing_since.as_secs_f64()
    )]
    PollsFailing {
        /// The execution, to resume with.
        execution_id: String,
        /// How many result requests the wait made.
        polls: u32,
        /// How many of them failed in the run that ended the wait.
        failed_polls: u32,
        /// From the start of the wait to the first failed poll of the run.
        failing_since: Duration,
        /// From the first failed poll of the run to the last.
        failing_for: Duration,
        /// What the last failed poll got.
        #[source]
        source: Box<UsageError>,
    },
    /// A poll failed for good. Each poll is one request (the poll schedule is the retry),
    /// so `polls` and `elapsed` are what the whole wait cost.
    #[error(
        "polling usage query {execution_id} failed after {polls} polls over {:.1} s: {source}",
        .elapsed.as_secs_f64()
    )]
    Poll {
        /// The execution, to resume with.
        execution_id: String,
        /// How many result requests were made.
        polls: u32,
        /// From the start of the wait to giving up.
        elapsed: Duration,
        /// What the client reported.
        #[source]
        source: UsageError,
    },
}

impl Error {
    /// Paging stopped because the service's answer cannot be paged on (a `nextUri` without
    /// a usable cursor, a cursor that repeats): a `Page` error whose source is a `Decode`
    /// of `answer` (its first 120 characters quoted).
    pub(crate) fn paging_stopped(
        job_id: &str,
        cursor: Option<String>,
        reason: String,
        answer: &str,
    ) -> Self {
        Error::Page {
            job_id: job_id.to_string(),
            cursor,
            source: Box::new(UsageError::Decode {
                reason,
                snippet: answer.chars().take(120).collect(),
            }),
        }
    }

    /// The execution this error concerns, when one was started.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Error::FailureState { execution_id, .. }
            | Error::ExceededMaxWait { execution_id, .. }
            | Error::Poll { execution_id, .. }
            | Error::PollsFailing { execution_id, .. } => Some(execution_id),
            Error::JobFailed { job_id, .. }
            | Error::JobCancelled { job_id, .. }
            | Error::JobNotFinished { job_id, .. }
            | Error::InvalidCursor { job_id, .. }
            | Error::Page { job_id, .. } => Some(job_id),
            _ => None,
        }
    }
}

fn fmt_body(body: &Option<Box<ErrorBody>>) -> String {
    body.as_deref()
        .and_then(ErrorBody::summary)
        .map(|s| format!(": {s}"))
        .unwrap_or_default()
}
