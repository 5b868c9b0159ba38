//! What each call and each attempt tells `tracing`: one span per call, named by its
//! operationId, and one event per attempt, the same for all eleven operations.

use super::attempt::{self, Attempt, Failed};
use crate::error::root_cause;
use crate::operations::OperationSpec;

/// The span of one operation call.
pub(crate) fn request_span(op: &OperationSpec) -> tracing::Span {
    tracing::info_span!(
        "usage_api.request",
        operation_id = op.operation_id,
        method = %op.method,
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
        correlation_id = tracing::field::Empty,
    )
}

/// Records one attempt on the call's span and as an event.
pub(crate) fn record_attempt<T>(
    span: &tracing::Span,
    attempt: u32,
    duration_ms: u64,
    call_ms: u64,
    outcome: &Attempt<T>,
) {
    span.record("attempt", attempt);
    span.record("duration_ms", call_ms);
    let (status, correlation_id) = attempt::head(outcome);
    if let Some(status) = status {
        span.record("status", status);
    }
    if let Some(id) = correlation_id {
        span.record("correlation_id", id);
    }
    // Every attempt is an event of its own, the successful one too: a user debugging with
    // RUST_LOG=usage_client=debug needs the correlation id of the request that worked.
    match outcome {
        Ok(_) | Err(Failed::Answer { .. } | Failed::Unexpected { .. }) => {
            tracing::debug!(attempt, status, correlation_id, duration_ms, "response");
        }
        Err(Failed::Transport(error)) => {
            let error = root_cause(error);
            tracing::debug!(attempt, duration_ms, %error, "request failed");
        }
        Err(Failed::TooLarge { limit, .. }) => {
            tracing::debug!(attempt, status, duration_ms, limit, "body over the cap");
        }
        Err(Failed::Redirect { .. }) => {
            tracing::debug!(attempt, status, duration_ms, "redirect not followed");
        }
        Err(Failed::Decode { reason, .. }) => {
            tracing::debug!(attempt, duration_ms, %reason, "body does not decode");
        }
    }
}
