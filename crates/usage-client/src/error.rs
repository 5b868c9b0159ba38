//! One typed error for every operation, that says what went wrong and what to do.
//!
//! The generated methods return progenitor's `Error<ErrorBody>`; `?` converts it into
//! [`UsageError`] in any function that returns `Result<_, UsageError>`. Errors the runtime
//! decides on itself (see `carry.rs`) come out of that conversion whole.

use std::fmt::Write as _;
use std::time::Duration;

use usage_models::ErrorBody;

use crate::auth::AuthError;
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
    /// A submission (POST) whose fate is unknown: the request was sent, then the connection
    /// broke, the attempt timed out, the answer was a 5xx or could not be read. The service
    /// may have started a usage query. The SDK never replays such a request; see
    /// [`is_transient`](Self::is_transient).
    #[error(
        "the submission's outcome is unknown, a usage query may have started: {cause}; \
         resubmitting may run the query twice (it costs rate limit, not correctness){}",
        fmt_correlation(.cause.correlation_id())
    )]
    OutcomeUnknown {
        /// What happened to the request.
        #[source]
        cause: Box<UsageError>,
    },
    /// No token could be had; the error says what to check and whether a later try may work.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request was refused before sending (an id that would change the path).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An attempt timed out, after the retries the policy allows.
    #[error(
        "the request timed out ({}); the service may be slow or unreachable",
        fmt_attempts(*.attempts, *.elapsed, Some(.source))
    )]
    Timeout {
        /// What the HTTP stack said.
        #[source]
        source: reqwest::Error,
        /// Sends of the request, the first included.
        attempts: u32,
        /// From the first send to giving up.
        elapsed: Duration,
    },
    /// The connection failed or broke, after the retries the policy allows.
    #[error(
        "network error talking to the Usage API ({})",
        fmt_attempts(*.attempts, *.elapsed, Some(.source))
    )]
    Network {
        /// What the HTTP stack said.
        #[source]
        source: reqwest::Error,
        /// Sends of the request, the first included.
        attempts: u32,
        /// From the first send to giving up.
        elapsed: Duration,
    },
    /// The caller's deadline ([`with_deadline`](crate::with_deadline)) left no time for
    /// another attempt.
    #[error(
        "the caller's deadline passed before the request could be sent again ({})",
        fmt_attempts(*.attempts, *.elapsed, None)
    )]
    DeadlineExceeded {
        /// Sends of the request made before the deadline.
        attempts: u32,
        /// From the first send to giving up.
        elapsed: Duration,
    },
    /// The answer's body is larger than the client accepts (see
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)).
    #[error(
        "the Usage API answered {status} with a body larger than the {limit}-byte cap{}; \
         raise ClientBuilder::max_response_bytes if this answer is legitimate, or ask for less (a shorter interval, fewer groupBy keys)",
        .declared.map(|n| format!(" (Content-Length {n})")).unwrap_or_default()
    )]
    ResponseTooLarge {
        /// The HTTP status of the answer.
        status: u16,
        /// The cap in bytes.
        limit: u64,
        /// The announced `Content-Length`, when the server announced one over the cap.
        declared: Option<u64>,
    },
    /// A redirect (3xx). The Usage API never redirects, so it is not followed: nothing was
    /// sent to `location`.
    #[error(
        "the server answered {status} redirecting to {}; the Usage API never redirects, so it was not followed: check the base URL and any proxy in between",
        .location.as_deref().unwrap_or("nowhere (no Location header)")
    )]
    Redirected {
        /// The HTTP status (301, 302, 303, 307, 308, ...).
        status: u16,
        /// The `Location` header, when there was one.
        location: Option<String>,
    },
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
    /// A status the spec does not list (1xx, or a 2xx other than the documented one).
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
    body.summary().map(|s| format!(": {s}")).unwrap_or_default()
}

fn fmt_correlation(id: Option<&str>) -> String {
    id.map(|id| format!("; correlation id {id}"))
        .unwrap_or_default()
}

/// "2 attempts over 1.5 s: dns error: failed to lookup address information: ...".
pub(crate) fn fmt_attempts(
    attempts: u32,
    elapsed: Duration,
    source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    let mut text = format!(
        "{attempts} attempt{} over {:.1} s",
        if attempts == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    );
    if let Some(source) = source {
        let _ = write!(text, ": {}", root_cause(source));
    }
    text
}

/// Every message of an error's source chain, joined with `: `, without the parts that only
/// repeat the URL. reqwest's own text ("error sending request for url (...)") hides what
/// went wrong ("dns error: failed to lookup address information"), which sits further down.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut timed_out = false;
    let mut next = Some(error);
    while let Some(e) = next {
        let mut text = e.to_string();
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if let Some(url) = r.url() {
                text = text.replace(&format!(" for url ({url})"), "");
            }
            timed_out |= r.is_timeout();
        }
        // Skip a part the previous one already says in full.
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let mut text = parts.join(": ");
    if timed_out && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    text
}

impl UsageError {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            UsageError::RateLimited { .. } => Some(429),
            UsageError::Unauthorized { .. } => Some(401),
            UsageError::Forbidden { .. } => Some(403),
            UsageError::Api { status, .. }
            | UsageError::UnexpectedStatus { status, .. }
            | UsageError::ResponseTooLarge { status, .. }
            | UsageError::Redirected { status, .. } => Some(*status),
            UsageError::OutcomeUnknown { cause } => cause.status(),
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
            UsageError::OutcomeUnknown { cause } => cause.body(),
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
            UsageError::OutcomeUnknown { cause } => cause.correlation_id(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed *and* is safe. A submission whose outcome is
    /// unknown ([`OutcomeUnknown`](Self::OutcomeUnknown)) is not: trying again may start a
    /// second query.
    pub fn is_transient(&self) -> bool {
        match self {
            UsageError::RateLimited { .. }
            | UsageError::Timeout { .. }
            | UsageError::Network { .. }
            | UsageError::DeadlineExceeded { .. } => true,
            UsageError::Api { status, .. } => matches!(status, 408 | 500 | 502 | 503 | 504),
            UsageError::Auth(error) => error.is_transient(),
            _ => false,
        }
    }

    /// An error answer as the service sent it: its status, headers and `ErrorBody`.
    pub(crate) fn from_answer(
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: ErrorBody,
    ) -> Self {
        let correlation_id = header(headers, CORRELATION_ID_HEADER);
        let body = Box::new(body);
        match status {
            429 => UsageError::RateLimited {
                retry_after: retry_after(headers),
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
                let headers = rv.headers().clone();
                UsageError::from_answer(status, &headers, rv.into_inner())
            }
            E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
                if let Some(carried) = crate::carry::take(&e) {
                    return carried;
                }
                // Only reachable with a runtime that does not read bodies itself
                // (`Runtime::default()` still does): one attempt, time unknown.
                if e.is_timeout() {
                    UsageError::Timeout {
                        source: e,
                        attempts: 1,
                        elapsed: Duration::ZERO,
                    }
                } else {
                    UsageError::Network {
                        source: e,
                        attempts: 1,
                        elapsed: Duration::ZERO,
                    }
                }
            }
            E::InvalidRequest(message) | E::Custom(message) => UsageError::InvalidRequest(message),
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
