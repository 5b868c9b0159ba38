//! How a typed error crosses progenitor's generated code.
//!
//! The `exec` hook must return `reqwest::Result<Response>`, and no `reqwest::Error` can be
//! built by hand, so an error the runtime decides on (a POST whose outcome is unknown, a
//! body over its cap, a redirect, a login failure) would otherwise be flattened to a
//! string or lost. Instead the hook answers with a response whose body fails to read, the
//! failure being a [`Carried`] holding the finished [`UsageError`]. The generated code
//! reads that body and returns `Error::ResponseBodyError(e)`; the conversion to
//! `UsageError` finds the `Carried` in `e`'s source chain and takes the error out whole.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::error::UsageError;

/// The error inside a failing body: the runtime's final word on a request.
pub(crate) struct Carried {
    // Read once, by the conversion; the message stays for anyone who prints the chain.
    error: Mutex<Option<UsageError>>,
    message: String,
}

impl std::fmt::Debug for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Carried {}

/// A body whose first read fails with the carried error.
struct FailingBody(Option<Carried>);

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = Carried;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Carried>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// A `200` response whose body read fails with `error`: the generated code reads every
/// `200` body, so the error reaches the caller as `ResponseBodyError`.
pub(crate) fn into_response(error: UsageError) -> reqwest::Response {
    let carried = Carried {
        message: error.to_string(),
        error: Mutex::new(Some(error)),
    };
    reqwest::Response::from(http::Response::new(reqwest::Body::wrap(FailingBody(Some(
        carried,
    )))))
}

/// The carried error in `error`'s source chain, taken out (once).
pub(crate) fn take(error: &reqwest::Error) -> Option<UsageError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(carried) = e.downcast_ref::<Carried>() {
            return carried
                .error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
        next = e.source();
    }
    None
}
