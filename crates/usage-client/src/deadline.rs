//! A deadline for every request made inside a future, retries and token fetches included.
//!
//! A caller that waits for a result (the poller's `max_wait`) must be able to bound the
//! whole call, not only its own sleeps: otherwise a silent server costs every runtime retry
//! times every per-attempt timeout. The deadline travels as a task-local value, so the
//! generated methods need no extra parameter: the runtime shortens each attempt's timeout
//! to the time left, and starts no retry whose wait would end past it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `future` with every Usage API call inside it bounded by `deadline` (an instant of
/// the client's [`Clock`](crate::Clock)): no attempt runs past it and no retry starts that
/// would end after it. A call that hits it fails with [`UsageError::Timeout`] or
/// [`UsageError::DeadlineExceeded`](crate::UsageError::DeadlineExceeded).
///
/// [`UsageError::Timeout`]: crate::UsageError::Timeout
pub async fn with_deadline<F: Future>(deadline: Instant, future: F) -> F::Output {
    // An outer, earlier deadline still holds.
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(deadline, future).await
}

/// The deadline in force for the current task, if any.
pub(crate) fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// The time left before `deadline` as of `now` (zero once past).
pub(crate) fn remaining(deadline: Instant, now: Instant) -> Duration {
    deadline.saturating_duration_since(now)
}
