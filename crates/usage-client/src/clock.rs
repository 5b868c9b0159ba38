//! Time as the runtime sees it: token expiry, backoff waits, the retry budget.
//!
//! Injectable so that tests decide how long a wait takes (and record it) while still
//! talking to a real loopback server: tokio's paused clock would fire the HTTP timeouts
//! as soon as the runtime idles on socket I/O.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

/// A boxed, sendable future, as the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A source of `now` and of waits.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// tokio's clock (and so tokio's paused clock in tests that use it).
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        // tokio's timer wheel ticks in milliseconds: even a zero sleep would wait for the
        // next tick. A zero wait only yields.
        if duration.is_zero() {
            Box::pin(tokio::task::yield_now())
        } else {
            Box::pin(tokio::time::sleep(duration))
        }
    }
}
