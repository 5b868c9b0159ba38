//! One typed error for every operation, that says what went wrong and what to do.
//!
//! The generated methods return progenitor's `Error<ErrorBody>`; `?` converts it into
//! [`UsageError`] in any function that returns `Result<_, UsageError>`.

use std::time::Duration;

use usage_models::ErrorBody;

use crate::retry::retry_after;
use crate::runtime::CORRELATION_ID_HEADER;

/// What can go wrong calling the Usage API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// 429 after the retries the policy allows (or a `Retry-After` past its cap).
    #[error("rate limited by the Usage API{}{}; wait and try again, or lower the request rate", fmt_wait(.retry_after), fmt_message(.body))]
    RateLimited {
        /// The wait the service asked for (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// The service's error body.
        body: Box<ErrorBody>,
        /// `ININ-Correlation-Id`, to quote to Genesys support.
        correlation_id: Option<String>,
    },
    /// 401 even after renewing the token once.
    #[error("the Usage API refused the access token (401){}; check the OAuth client's credentials and that it is active", fmt_message(.body))]
    Unauthorized {
        /// The service's error body.
        body: Box<ErrorBody>,
        /// `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// 403: the OAuth client lacks a permission.
    #[error("the Usage API denied the request (403){}; give the OAuth client's role oauth:client:view, or usage:organization:view / usage:client:view", fmt_message(.body))]
    Forbidden {
        /// The service's error body.
        body: Box<ErrorBody>,
        /// `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// Any other documented error answer (4xx or 5xx with an `ErrorBody`).
    #[error("the Usage API answered {status}{}", fmt_message(.body))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The service's error body.
        body: Box<ErrorBody>,
        /// `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// No token could be had; the message says what to check.
    #[error("{0}")]
    Auth(String),
    /// The request was refused before sending (an id that would change the path).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The request timed out (after the retries the policy allows).
    #[error("the request timed out; the service may be slow or unreachable")]
    Timeout(#[source] reqwest::Error),
    /// The connection failed or broke (after the retries the policy allows).
    #[error("network error talking to the Usage API: {0}")]
    Network(#[source] reqwest::Error),
    /// An answer whose body is not what the spec says (truncated, not JSON, wrong shape).
    #[error(
        "the Usage API answered with a body that does not decode: {reason} (body starts {snippet:?})"
    )]
    Decode {
        /// What did not decode.
        reason: String,
        /// The first bytes of the body, lossily as text.
        snippet: String,
    },
    /// A status the spec does not list (1xx, 3xx).
    #[error("the Usage API answered with unexpected status {status}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
}

fn fmt_wait(wait: &Option<Duration>) -> String {
    wait.map(|w| format!(" (Retry-After: {} s)", w.as_secs()))
        .unwrap_or_default()
}

fn fmt_message(body: &ErrorBody) -> String {
    match (&body.code, &body.message) {
        (Some(code), Some(message)) => format!(": {code}: {message}"),
        (None, Some(message)) => format!(": {message}"),
        (Some(code), None) => format!(": {code}"),
        (None, None) => String::new(),
    }
}

impl UsageError {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            UsageError::RateLimited { .. } => Some(429),
            UsageError::Unauthorized { .. } => Some(401),
            UsageError::Forbidden { .. } => Some(403),
            UsageError::Api { status, .. } | UsageError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The service's error body, when it sent one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            UsageError::RateLimited { body, .. }
            | UsageError::Unauthorized { body, .. }
            | UsageError::Forbidden { body, .. }
            | UsageError::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The id Genesys support needs to find the request: the `ININ-Correlation-Id`
    /// response header, or the body's `contextId`.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            UsageError::RateLimited {
                correlation_id,
                body,
                ..
            }
            | UsageError::Unauthorized {
                correlation_id,
                body,
            }
            | UsageError::Forbidden {
                correlation_id,
                body,
            }
            | UsageError::Api {
                correlation_id,
                body,
                ..
            } => correlation_id.as_deref().or(body.context_id.as_deref()),
            UsageError::UnexpectedStatus { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            UsageError::RateLimited { .. } | UsageError::Timeout(_) | UsageError::Network(_) => {
                true
            }
            UsageError::Api { status, .. } => matches!(status, 408 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

fn snippet(bytes: &[u8]) -> String {
    let end = bytes.len().min(120);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl From<progenitor_client::Error<ErrorBody>> for UsageError {
    fn from(error: progenitor_client::Error<ErrorBody>) -> Self {
        use progenitor_client::Error as E;
        match error {
            E::ErrorResponse(rv) => {
                let status = rv.status().as_u16();
                let correlation_id = header(rv.headers(), CORRELATION_ID_HEADER);
                let wait = retry_after(rv.headers());
                let body = Box::new(rv.into_inner());
                match status {
                    429 => UsageError::RateLimited {
                        retry_after: wait,
                        body,
                        correlation_id,
                    },
                    401 => UsageError::Unauthorized {
                        body,
                        correlation_id,
                    },
                    403 => UsageError::Forbidden {
                        body,
                        correlation_id,
                    },
                    _ => UsageError::Api {
                        status,
                        body,
                        correlation_id,
                    },
                }
            }
            E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
                if e.is_timeout() {
                    UsageError::Timeout(e)
                } else {
                    UsageError::Network(e)
                }
            }
            E::InvalidRequest(message) => UsageError::InvalidRequest(message),
            // The runtime's pre-hook raises Custom only when no token could be had.
            E::Custom(message) => UsageError::Auth(message),
            E::InvalidResponsePayload(bytes, e) => UsageError::Decode {
                reason: e.to_string(),
                snippet: snippet(&bytes),
            },
            E::UnexpectedResponse(response) => UsageError::UnexpectedStatus {
                status: response.status().as_u16(),
                correlation_id: header(response.headers(), CORRELATION_ID_HEADER),
            },
        }
    }
}

impl From<crate::auth::AuthError> for UsageError {
    fn from(error: crate::auth::AuthError) -> Self {
        UsageError::Auth(error.to_string())
    }
}
