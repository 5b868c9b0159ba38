//! The attempt phase: one send, and the whole answer read within its caps. A success body
//! goes through the operation's decoder as it arrives; an error body is read under the
//! error cap and always yields an `ErrorBody`, so the status is never lost to a proxy's
//! HTML page or an empty body.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use usage_models::ErrorBody;

use super::decode::Decoder;
use crate::error::{CORRELATION_ID_HEADER, TransportError, UsageError, header};
use crate::operations::OperationSpec;
use crate::retry::{self, Class};
use crate::transport::body::{self, MAX_ERROR_BODY_BYTES, ReadError};

/// How much of a body that does not decode is quoted in the error.
const SNIPPET_BYTES: usize = 120;

/// A documented success, decoded.
pub(crate) struct Success<T> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub output: T,
}

/// Why one send did not give a documented success.
pub(crate) enum Failed {
    /// An error answer (4xx, 5xx) and its body.
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Box<ErrorBody>,
    },
    /// The request or the body transfer failed.
    Transport(reqwest::Error),
    /// A success body over the cap: announced (`declared`), or counted while reading.
    TooLarge {
        status: u16,
        limit: u64,
        declared: Option<u64>,
    },
    /// A 3xx, not followed.
    Redirect {
        status: u16,
        location: Option<String>,
    },
    /// A success whose body is not what the spec says.
    Decode { reason: String, snippet: String },
    /// A status the operation does not document (1xx, or another 2xx).
    Unexpected {
        status: StatusCode,
        headers: HeaderMap,
    },
}

/// One send, as the classifier sees it.
pub(crate) type Attempt<T> = Result<Success<T>, Failed>;

/// The status and the correlation id of a send, for tracing.
pub(crate) fn head<T>(attempt: &Attempt<T>) -> (Option<u16>, Option<&str>) {
    match attempt {
        Ok(Success {
            status, headers, ..
        })
        | Err(Failed::Answer {
            status, headers, ..
        })
        | Err(Failed::Unexpected { status, headers }) => {
            (Some(status.as_u16()), correlation(headers))
        }
        Err(Failed::TooLarge { status, .. } | Failed::Redirect { status, .. }) => {
            (Some(*status), None)
        }
        Err(Failed::Transport(_) | Failed::Decode { .. }) => (None, None),
    }
}

impl Failed {
    /// What the failure allows: only an error answer or a transport failure may be sent
    /// again; a redirect, a body over the cap or one that does not decode would fail again.
    pub(crate) fn class(&self, idempotent: bool) -> Class {
        match self {
            Failed::Answer {
                status, headers, ..
            } => retry::classify(idempotent, Ok((*status, headers))),
            Failed::Transport(e) => retry::classify(idempotent, Err(e)),
            _ => Class::Done,
        }
    }

    /// Whether the send timed out (a retry after it costs more of the retry quota).
    pub(crate) fn timed_out(&self) -> bool {
        matches!(self, Failed::Transport(e) if e.is_timeout())
    }

    /// The caller's error, with the attempts and time of the whole call, and whether the
    /// request may have reached the service (for a POST: `OutcomeUnknown`).
    pub(crate) fn into_error(self, attempts: u32, elapsed: Duration) -> (UsageError, bool) {
        match self {
            Failed::Answer {
                status,
                headers,
                body,
            } => (
                UsageError::from_answer(
                    status.as_u16(),
                    &headers,
                    *body,
                    retry::retry_after(&headers),
                ),
                status.is_server_error(),
            ),
            Failed::Transport(source) => {
                let delivered = !source.is_connect();
                let timed_out = source.is_timeout();
                let source = TransportError::new(source);
                let error = if timed_out {
                    UsageError::Timeout {
                        source,
                        attempts,
                        elapsed,
                    }
                } else {
                    UsageError::Network {
                        source,
                        attempts,
                        elapsed,
                    }
                };
                (error, delivered)
            }
            Failed::TooLarge {
                status,
                limit,
                declared,
            } => (
                UsageError::ResponseTooLarge {
                    status,
                    limit,
                    declared,
                },
                true,
            ),
            Failed::Redirect { status, location } => {
                (UsageError::Redirected { status, location }, false)
            }
            Failed::Decode { reason, snippet } => (UsageError::Decode { reason, snippet }, false),
            Failed::Unexpected { status, headers } => (
                UsageError::UnexpectedStatus {
                    status: status.as_u16(),
                    correlation_id: header(&headers, CORRELATION_ID_HEADER),
                },
                false,
            ),
        }
    }
}

/// Sends `request` once and reads its answer: a success under `limit`, through a new `D`.
pub(crate) async fn send<D: Decoder>(
    http: &reqwest::Client,
    request: reqwest::Request,
    op: &OperationSpec,
    limit: u64,
) -> Attempt<D::Output> {
    let mut response = match http.execute(request).await {
        Ok(response) => response,
        Err(e) => return Err(Failed::Transport(e)),
    };
    let status = response.status();
    if status.is_redirection() {
        return Err(Failed::Redirect {
            status: status.as_u16(),
            location: body::location(response.headers()),
        });
    }
    if status.is_client_error() || status.is_server_error() {
        let headers = response.headers().clone();
        let body = match body::read_capped(&mut response, MAX_ERROR_BODY_BYTES).await {
            Ok(bytes) => error_body(status, &bytes, None),
            // An error answer's status says more than its body: keep the status, and say
            // the body was not read.
            Err(ReadError::TooLarge { limit }) => error_body(status, &[], Some(limit)),
            Err(ReadError::Transport(e)) => return Err(Failed::Transport(e)),
        };
        return Err(Failed::Answer {
            status,
            headers,
            body: Box::new(body),
        });
    }
    if !op.success.contains(&status.as_u16()) {
        return Err(Failed::Unexpected {
            status,
            headers: response.headers().clone(),
        });
    }
    let mut decoder = D::default();
    if let Some(declared) = response.content_length() {
        // An announced length over the cap fails before anything is read.
        if declared > limit {
            return Err(Failed::TooLarge {
                status: status.as_u16(),
                limit,
                declared: Some(declared),
            });
        }
        decoder.expect(declared);
    }
    let headers = response.headers().clone();
    let mut read = 0u64;
    let mut first = Vec::new();
    let decode_error = |reason: String, first: &[u8]| {
        Err(Failed::Decode {
            reason,
            snippet: String::from_utf8_lossy(first).into_owned(),
        })
    };
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(Failed::Transport(e)),
        };
        read = read.saturating_add(chunk.len() as u64);
        if read > limit {
            return Err(Failed::TooLarge {
                status: status.as_u16(),
                limit,
                declared: None,
            });
        }
        if first.len() < SNIPPET_BYTES {
            let take = chunk.len().min(SNIPPET_BYTES - first.len());
            first.extend_from_slice(&chunk[..take]);
        }
        if let Err(reason) = decoder.feed(chunk) {
            return decode_error(reason, &first);
        }
    }
    match decoder.finish() {
        Ok(output) => Ok(Success {
            status,
            headers,
            output,
        }),
        Err(reason) => decode_error(reason, &first),
    }
}

/// The answer's `ErrorBody`, or, when the body is not one (a proxy's HTML page, an empty
/// body, a body over the cap), one the SDK writes that keeps the status and quotes the
/// start of what came, with a code that says the SDK wrote it.
fn error_body(status: StatusCode, bytes: &[u8], over_cap: Option<u64>) -> ErrorBody {
    if over_cap.is_none()
        && let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes)
    {
        return body;
    }
    let message = match over_cap {
        Some(limit) => format!(
            "the service answered {status} with a body over the {limit}-byte cap of error bodies; it was not read"
        ),
        None => {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            format!("the service answered {status} with a body that is not an ErrorBody: {shown:?}")
        }
    };
    ErrorBody {
        status: Some(i32::from(status.as_u16())),
        code: Some(UNREADABLE_ERROR_BODY.into()),
        message: Some(message),
        ..ErrorBody::default()
    }
}

/// `ErrorBody::code` of an error answer whose body the SDK replaced (see above).
pub const UNREADABLE_ERROR_BODY: &str = "sdk.unreadable.error.body";

fn correlation(headers: &HeaderMap) -> Option<&str> {
    headers.get(CORRELATION_ID_HEADER)?.to_str().ok()
}
