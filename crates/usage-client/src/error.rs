//! The errors of every call, at the bottom of the crate: each says what went wrong and what
//! to do. Every operation returns [`UsageError`]; building a client returns [`ConfigError`];
//! a token source returns [`AuthError`].
//!
//! No third-party error sits in a public field: the HTTP stack's error travels inside
//! [`TransportError`], reachable through [`std::error::Error::source`], so a major release
//! of the HTTP stack is not a breaking change of this crate.

use std::fmt::Write as _;
use std::time::Duration;

use usage_models::ErrorBody;

/// The response header that names a request on the service side; quote it to support.
pub const CORRELATION_ID_HEADER: &str = "inin-correlation-id";

/// What the HTTP stack said when a request or a body transfer failed. Its text names the
/// cause; the HTTP stack's own error is its [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct TransportError(reqwest::Error);

impl TransportError {
    pub(crate) fn new(error: reqwest::Error) -> Self {
        Self(error)
    }

    /// Whether the failure was a timeout.
    pub fn is_timeout(&self) -> bool {
        self.0.is_timeout()
    }

    /// Whether the connection could not be made (so nothing was sent).
    pub fn is_connect(&self) -> bool {
        self.0.is_connect()
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&root_cause(&self.0))
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

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
        source: TransportError,
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
        source: TransportError,
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
    let mut text = body.summary().map(|s| format!(": {s}")).unwrap_or_default();
    if let Some(limit) = body.named_limit().and_then(|l| l.describe()) {
        text.push_str(&format!("; the limit named: {limit}"));
    }
    text
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

    /// The rate limit the error answer names (`ErrorBody.limit`: on a 429, the limit that
    /// was hit, with its key, namespace and value), when it names one. Which answers carry
    /// it is not documented; many 429s may not.
    pub fn limit(&self) -> Option<&usage_models::Limit> {
        self.body()?.named_limit()
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

    /// An error answer as the service sent it: its status, headers, `ErrorBody` and the
    /// wait it named (`Retry-After`).
    pub(crate) fn from_answer(
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: ErrorBody,
        retry_after: Option<Duration>,
    ) -> Self {
        let correlation_id = header(headers, CORRELATION_ID_HEADER);
        let body = Box::new(body);
        match status {
            429 => UsageError::RateLimited {
                retry_after,
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

pub(crate) fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// Why no token could be had. Each message says what to check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The login service refused the client id or secret.
    #[error(
        "the login service at {url} refused the client credentials ({status} {error}: {description}); \
         check GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, that the OAuth client \
         uses the Client Credentials grant, and that it belongs to an org in this region"
    )]
    InvalidCredentials {
        /// The token endpoint.
        url: String,
        /// The HTTP status (400 or 401).
        status: u16,
        /// The OAuth `error` code, e.g. `invalid_client`.
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },
    /// The token endpoint does not exist where it was looked for.
    #[error(
        "no OAuth token endpoint at {url} ({status}); check GENESYSCLOUD_REGION or the login base URL"
    )]
    WrongEndpoint {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The login service could not be reached, or did not answer in time.
    #[error(
        "could not reach the login service at {url} ({}); check the network, any proxy, and GENESYSCLOUD_REGION",
        fmt_attempts(*.attempts, *.elapsed, Some(.source))
    )]
    Network {
        /// The token endpoint.
        url: String,
        /// What the HTTP stack said.
        #[source]
        source: TransportError,
        /// Token requests sent, the first included.
        attempts: u32,
        /// From the first token request to giving up.
        elapsed: Duration,
    },
    /// The login service failed or is rate limiting; a later try may work.
    #[error(
        "the login service at {url} is unavailable ({status}; {}); try again later",
        fmt_attempts(*.attempts, *.elapsed, None)
    )]
    Unavailable {
        /// The token endpoint.
        url: String,
        /// The HTTP status (429 or 5xx).
        status: u16,
        /// Token requests sent, the first included.
        attempts: u32,
        /// From the first token request to giving up.
        elapsed: Duration,
    },
    /// The caller's deadline ([`with_deadline`](crate::with_deadline)) passed while a
    /// token was being fetched.
    #[error(
        "the caller's deadline passed while asking the login service at {url} for a token ({})",
        fmt_attempts(*.attempts, *.elapsed, None)
    )]
    DeadlineExceeded {
        /// The token endpoint.
        url: String,
        /// Token requests sent.
        attempts: u32,
        /// From the first token request to giving up.
        elapsed: Duration,
    },
    /// The login service redirected the token request. It never does, so the redirect was
    /// not followed: the credentials went nowhere else.
    #[error(
        "the login service at {url} answered {status} redirecting to {}; it was not followed (credentials are never sent where a redirect points): check the login base URL and any proxy",
        .location.as_deref().unwrap_or("nowhere (no Location header)")
    )]
    Redirected {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `Location` header, when there was one.
        location: Option<String>,
    },
    /// The token answer is larger than any token response (64 KiB).
    #[error(
        "the login service at {url} answered with a body over the {limit}-byte cap of token answers; check the login base URL"
    )]
    ResponseTooLarge {
        /// The token endpoint.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The token holds bytes an HTTP header cannot carry (CR, LF, other control bytes).
    /// The token is not shown.
    #[error(
        "the access token holds characters an HTTP header cannot carry (CR, LF or other control bytes); \
         check GENESYSCLOUD_ACCESS_TOKEN, or the login service that issued it"
    )]
    InvalidToken,
    /// The login service answered success without a usable token.
    #[error("the login service at {url} answered without a usable token: {reason}")]
    MalformedToken {
        /// The token endpoint.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// A fixed access token was refused by the API and cannot be refreshed.
    #[error(
        "the API refused the access token and it cannot be refreshed; set a fresh \
         GENESYSCLOUD_ACCESS_TOKEN, or use client credentials so the SDK can renew tokens"
    )]
    TokenRejected,
}

impl AuthError {
    /// Whether a later try may succeed (the login service was unreachable or unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AuthError::Network { .. }
                | AuthError::Unavailable { .. }
                | AuthError::DeadlineExceeded { .. }
        )
    }
}

/// A client that cannot be built as configured. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A base URL does not parse or has parts a base URL must not have.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain http to a host that is not loopback.
    #[error(
        "refusing plain http for {url:?}: tokens would cross the network in clear text; use https (http is accepted for loopback hosts only)"
    )]
    InsecureUrl {
        /// The URL given.
        url: String,
    },
    /// `GENESYSCLOUD_REGION` names no region.
    #[error(transparent)]
    UnknownRegion(#[from] UnknownRegion),
    /// The TLS configuration could not be built (no usable crypto provider or system
    /// certificate store).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// No way to authenticate was configured.
    #[error(
        "no credentials: set {} and {} (client credentials), or {}",
        crate::env::CLIENT_ID,
        crate::env::CLIENT_SECRET,
        crate::env::ACCESS_TOKEN
    )]
    MissingCredentials,
    /// One half of the client credentials is missing or blank.
    #[error("{missing} is not set (or blank) while {present} is: set both")]
    IncompleteCredentials {
        /// The variable that is missing.
        missing: &'static str,
        /// The variable that is set.
        present: &'static str,
    },
    /// The retry policy cannot work.
    #[error("invalid retry policy: {0}")]
    InvalidRetryPolicy(String),
    /// The proxy setting cannot work (the URL is not shown: it may hold a password).
    #[error("invalid proxy: {0}")]
    InvalidProxy(String),
    /// The response size cap is zero.
    #[error("max_response_bytes must be at least 1")]
    InvalidMaxResponseBytes,
    /// The HTTP client could not be built (TLS initialisation).
    #[error("could not build the HTTP client: {0}")]
    Http(#[source] TransportError),
}

/// A region name or domain that matches no region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown Genesys Cloud region {input:?}: use a name such as us-east-1 or eu_west_1, or a domain such as mypurecloud.ie"
)]
pub struct UnknownRegion {
    /// What was given.
    pub input: String,
}
