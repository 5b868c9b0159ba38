//! The hand-written runtime the generated client carries as its inner value: it adds the
//! user agent and the bearer token to each request, retries transient failures, replays
//! once after a 401 with a renewed token, reads every body under a cap, and traces every
//! attempt. It acts through progenitor's `ClientHooks`, which is why it lives in this crate.
//!
//! The loop decides every failure itself and hands it to the caller whole (see
//! `carry.rs`): the generated code only ever sees a response that is complete and bounded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use tracing::Instrument as _;

use crate::auth::{AuthError, TokenSource};
use crate::body::{self, MAX_ERROR_BODY_BYTES, ReadError};
use crate::clock::{Clock, TokioClock};
use crate::error::UsageError;
use crate::retry::{self, RetryPolicy, Verdict};
use crate::secret::Secret;
use crate::{Client, OPERATIONS, carry, deadline, path_guard};

/// `genesys-usage-rs/<version>`: lets Genesys support tell this SDK's traffic apart.
pub const USER_AGENT_VALUE: &str = concat!("genesys-usage-rs/", env!("CARGO_PKG_VERSION"));

/// The response header that names a request on the service side; quote it to support.
pub const CORRELATION_ID_HEADER: &str = "inin-correlation-id";

/// Per-client state shared by a client and all its clones: one token source, one retry
/// policy, one clock. Cheap to clone.
///
/// `Runtime::default()` is bare: no token, no retries. [`Client::builder`] and
/// [`Client::from_env`] build the runtime a real org needs.
#[derive(Clone, Debug)]
pub struct Runtime(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    auth: Option<Arc<dyn TokenSource>>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    rng: Mutex<fastrand::Rng>,
    limits: Limits,
}

/// What one request may cost: the time of an attempt and the size of a success body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The per-attempt timeout the HTTP client was built with (`None`: its own).
    pub timeout: Option<Duration>,
    /// The largest success body read.
    pub max_response_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: None,
            max_response_bytes: body::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new(
            None,
            RetryPolicy::disabled(),
            Arc::new(TokioClock),
            None,
            Limits::default(),
        )
    }
}

/// One send, as the loop judges it: the whole answer, or why there is none.
enum Attempt {
    /// An answer whose body was read whole (an error body over its cap is replaced).
    Answer(Head, Bytes),
    /// The request or the body transfer failed.
    Transport(reqwest::Error),
    /// A success body over the cap.
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
    /// A success whose body is left for the caller to read (under the same cap), asked for
    /// by `run_unread`: the rows of a large result are decoded as they arrive.
    Unread(reqwest::Response),
}

type Head = (StatusCode, reqwest::Version, HeaderMap);

impl Runtime {
    pub(crate) fn new(
        auth: Option<Arc<dyn TokenSource>>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
        jitter_seed: Option<u64>,
        limits: Limits,
    ) -> Self {
        let rng = jitter_seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self(Arc::new(Inner {
            auth,
            retry,
            clock,
            rng: Mutex::new(rng),
            limits,
        }))
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.0.retry
    }

    /// The clock the runtime waits on; helpers that poll use it too, so one injected
    /// clock governs every wait.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    /// The token source, if the client authenticates.
    pub fn token_source(&self) -> Option<&Arc<dyn TokenSource>> {
        self.0.auth.as_ref()
    }

    /// The largest success body the client reads, in bytes.
    pub fn max_response_bytes(&self) -> u64 {
        self.0.limits.max_response_bytes
    }

    /// Gets a token now, so that bad credentials surface as a typed [`AuthError`] before
    /// any API call. A client without a token source succeeds.
    pub async fn authenticate(&self) -> Result<(), AuthError> {
        match &self.0.auth {
            Some(auth) => bearer_value(&auth.token().await?).map(drop),
            None => Ok(()),
        }
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, fastrand::Rng> {
        self.0.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`Runtime::run`] for a GET whose success body the caller reads itself, counted
    /// against `max_response_bytes` (streamed.rs); error answers are read here as always.
    pub(crate) async fn run_unread(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, UsageError> {
        self.run_with(http, request, true, true).await
    }

    async fn run(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        idempotent: bool,
    ) -> Result<reqwest::Response, UsageError> {
        self.run_with(http, request, idempotent, false).await
    }

    async fn run_with(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        idempotent: bool,
        unread_success: bool,
    ) -> Result<reqwest::Response, UsageError> {
        let inner = &self.0;
        let span = tracing::Span::current();
        let started = inner.clock.now();
        let deadline = deadline::current();
        let mut backoff = inner.retry.backoff(self.rng().u64(..));
        let mut reauthenticated = false;
        // The token the next attempt carries; `None` asks the source again.
        let mut token: Option<Secret> = None;
        let mut attempts = 0u32;
        loop {
            let left = deadline.map(|d| deadline::remaining(d, inner.clock.now()));
            if left == Some(Duration::ZERO) {
                return Err(UsageError::DeadlineExceeded {
                    attempts,
                    elapsed: inner.clock.now() - started,
                });
            }
            if let Some(auth) = &inner.auth {
                let current = match token.take() {
                    Some(current) => current,
                    None => auth.token().await?,
                };
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, bearer_value(&current)?);
                token = Some(current);
            }
            *request.timeout_mut() = match (inner.limits.timeout, left) {
                (Some(t), Some(l)) => Some(t.min(l)),
                (t, l) => t.or(l),
            };
            attempts += 1;
            // A body that cannot be copied (a stream) is sent once, without retries.
            let spare = request.try_clone();
            let sent_at = inner.clock.now();
            let outcome = self.attempt(http, request, unread_success).await;
            let now = inner.clock.now();
            span.record("duration_ms", (now - started).as_millis() as u64);
            record_attempt(
                &span,
                attempts,
                (now - sent_at).as_millis() as u64,
                &outcome,
            );
            let verdict = match &outcome {
                Attempt::Answer((status, _, headers), _) => {
                    retry::classify(idempotent, Ok((*status, headers)))
                }
                Attempt::Transport(e) => retry::classify(idempotent, Err(e)),
                Attempt::TooLarge { .. } | Attempt::Redirect { .. } | Attempt::Unread(_) => {
                    Verdict::Done
                }
            };
            let done = |outcome| finish(outcome, idempotent, attempts, now - started);
            let Some(next) = spare else {
                return done(outcome);
            };
            match verdict {
                Verdict::Done => return done(outcome),
                Verdict::Reauthenticate => {
                    let (Some(auth), Some(rejected)) = (&inner.auth, &token) else {
                        return done(outcome);
                    };
                    if reauthenticated {
                        return done(outcome);
                    }
                    reauthenticated = true;
                    match auth.refresh(rejected).await {
                        Ok(renewed) => token = Some(renewed),
                        // The login service may come back: say so, not "401".
                        Err(error) if error.is_transient() => return Err(error.into()),
                        Err(error) => {
                            tracing::warn!(%error, "the API refused the token and renewing it failed");
                            return done(outcome);
                        }
                    }
                    tracing::debug!(attempt = attempts, "replaying once with a renewed token");
                }
                Verdict::Retry { retry_after } => {
                    let Some(backoff_wait) = backoff.next() else {
                        return done(outcome);
                    };
                    let wait = match retry_after {
                        Some(asked) if asked > inner.retry.max_retry_after => {
                            tracing::debug!(
                                retry_after_s = asked.as_secs(),
                                "Retry-After is past the policy's cap; not waiting"
                            );
                            return done(outcome);
                        }
                        Some(asked) => inner.retry.retry_after_wait(asked, self.rng().f64()),
                        None => backoff_wait,
                    };
                    let now = inner.clock.now();
                    let left = deadline.map(|d| deadline::remaining(d, now));
                    if !inner.retry.retry_fits(now - started, wait, left) {
                        return done(outcome);
                    }
                    tracing::debug!(
                        attempt = attempts,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    inner.clock.sleep(wait).await;
                    // The wait can outlast the token the request carried: ask again after it.
                    token = None;
                }
            }
            request = next;
        }
    }

    /// Sends once and reads the whole answer, within the caps (a success only if
    /// `unread_success` is false).
    async fn attempt(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        unread_success: bool,
    ) -> Attempt {
        let mut response = match http.execute(request).await {
            Ok(response) => response,
            Err(e) => return Attempt::Transport(e),
        };
        let status = response.status();
        if status.is_redirection() {
            return Attempt::Redirect {
                status: status.as_u16(),
                location: location(response.headers()),
            };
        }
        let is_error = status.is_client_error() || status.is_server_error();
        let limit = if is_error {
            MAX_ERROR_BODY_BYTES
        } else {
            self.0.limits.max_response_bytes
        };
        if unread_success && status.is_success() {
            // An announced length over the cap fails before anything is read, as below.
            if let Some(declared) = response.content_length().filter(|&n| n > limit) {
                return Attempt::TooLarge {
                    status: status.as_u16(),
                    limit,
                    declared: Some(declared),
                };
            }
            return Attempt::Unread(response);
        }
        let read = body::read_capped(&mut response, limit).await;
        let mut head = (status, response.version(), response.headers().clone());
        match read {
            Ok(body) if is_error => {
                let body = readable_error_body(&mut head, body, None);
                Attempt::Answer(head, body)
            }
            Ok(body) => Attempt::Answer(head, body),
            Err(ReadError::Transport(e)) => Attempt::Transport(e),
            // An error answer's status says more than its body: keep the status, and say
            // the body was not read.
            Err(ReadError::TooLarge { limit, .. }) if is_error => {
                let body = readable_error_body(&mut head, Bytes::new(), Some(limit));
                Attempt::Answer(head, body)
            }
            Err(ReadError::TooLarge { limit, declared }) => Attempt::TooLarge {
                status: status.as_u16(),
                limit,
                declared,
            },
        }
    }
}

/// The caller's result of the last attempt. A POST that may have reached the service and
/// did not get a clear answer is `OutcomeUnknown`: never replayed, never "transient".
fn finish(
    outcome: Attempt,
    idempotent: bool,
    attempts: u32,
    elapsed: Duration,
) -> Result<reqwest::Response, UsageError> {
    let (error, delivered) = match outcome {
        Attempt::Answer(head, body) if idempotent || !head.0.is_server_error() => {
            return Ok(rebuild(head, body));
        }
        Attempt::Answer((status, _, headers), body) => {
            let body = serde_json::from_slice(&body).unwrap_or_default();
            (
                UsageError::from_answer(status.as_u16(), &headers, body),
                true,
            )
        }
        Attempt::Transport(source) => {
            let delivered = !source.is_connect();
            let error = if source.is_timeout() {
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
        Attempt::TooLarge {
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
        Attempt::Redirect { status, location } => {
            return Err(UsageError::Redirected { status, location });
        }
        Attempt::Unread(response) => return Ok(response),
    };
    if !idempotent && delivered {
        return Err(UsageError::OutcomeUnknown {
            cause: Box::new(error),
        });
    }
    Err(error)
}

/// A response from a head kept aside and a body already read.
fn rebuild((status, version, headers): Head, body: Bytes) -> reqwest::Response {
    let mut parts = http::Response::new(body);
    *parts.status_mut() = status;
    *parts.version_mut() = version;
    *parts.headers_mut() = headers;
    reqwest::Response::from(parts)
}

/// An error status whose body is not an `ErrorBody` (a proxy's HTML page, an empty body,
/// a body over the cap) would reach the caller as a decoding failure with its status lost.
/// Such a body is replaced by an `ErrorBody` that keeps the status and quotes the start of
/// what came, with a code that says the SDK wrote it.
fn readable_error_body(head: &mut Head, body: Bytes, over_cap: Option<u64>) -> Bytes {
    let (status, _, headers) = head;
    if over_cap.is_none() && serde_json::from_slice::<usage_models::ErrorBody>(&body).is_ok() {
        return body;
    }
    let message = match over_cap {
        Some(limit) => format!(
            "the service answered {status} with a body over the {limit}-byte cap of error bodies; it was not read"
        ),
        None => {
            let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            format!("the service answered {status} with a body that is not an ErrorBody: {shown:?}")
        }
    };
    let replacement = usage_models::ErrorBody {
        status: Some(i32::from(status.as_u16())),
        code: Some(UNREADABLE_ERROR_BODY.into()),
        message: Some(message),
        ..usage_models::ErrorBody::default()
    };
    headers.remove(reqwest::header::CONTENT_LENGTH);
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    serde_json::to_vec(&replacement).unwrap_or_default().into()
}

/// `ErrorBody::code` of an error answer whose body the SDK replaced (see above).
pub const UNREADABLE_ERROR_BODY: &str = "sdk.unreadable.error.body";

fn record_attempt(span: &tracing::Span, attempt: u32, duration_ms: u64, outcome: &Attempt) {
    span.record("attempt", attempt);
    match outcome {
        Attempt::Answer((status, _, headers), _) => {
            let status = status.as_u16();
            let correlation_id = headers
                .get(CORRELATION_ID_HEADER)
                .and_then(|v| v.to_str().ok());
            span.record("status", status);
            if let Some(id) = correlation_id {
                span.record("correlation_id", id);
            }
            tracing::debug!(attempt, status, duration_ms, correlation_id, "response");
        }
        Attempt::Transport(error) => {
            let error = crate::error::root_cause(error);
            tracing::debug!(attempt, duration_ms, %error, "request failed");
        }
        Attempt::TooLarge { status, limit, .. } => {
            span.record("status", status);
            tracing::debug!(attempt, status, duration_ms, limit, "body over the cap");
        }
        Attempt::Redirect { status, .. } => {
            span.record("status", status);
            tracing::debug!(attempt, status, duration_ms, "redirect not followed");
        }
        Attempt::Unread(response) => {
            let status = response.status().as_u16();
            let correlation_id = response
                .headers()
                .get(CORRELATION_ID_HEADER)
                .and_then(|v| v.to_str().ok());
            span.record("status", status);
            if let Some(id) = correlation_id {
                span.record("correlation_id", id);
            }
            tracing::debug!(
                attempt,
                status,
                duration_ms,
                correlation_id,
                "response, body streamed"
            );
        }
    }
}

/// Where a redirect pointed (never followed: see retry.rs), as text even if not UTF-8.
pub(crate) fn location(headers: &HeaderMap) -> Option<String> {
    headers
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `Bearer <token>` as a header value, marked sensitive. A token that a header cannot
/// carry (CR, LF, other control bytes) is refused: sent without it, the request would go
/// out unauthenticated and the failure would look like a 401.
pub(crate) fn bearer_value(token: &Secret) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| AuthError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

/// The span of one operation call, named by its operationId.
pub(crate) fn request_span(operation: &str, method: &str) -> tracing::Span {
    let spec = OPERATIONS.iter().find(|op| op.name == operation);
    tracing::info_span!(
        "usage_api.request",
        operation_id = spec.map_or(operation, |s| s.operation_id),
        method = %method,
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
        correlation_id = tracing::field::Empty,
    )
}

impl ClientHooks<Runtime> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        path_guard::check(self.baseurl(), info.operation_id, request.url())
            .map_err(progenitor_client::Error::InvalidRequest)?;
        request
            .headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let span = request_span(info.operation_id, request.method().as_str());
        let idempotent = request.method() == reqwest::Method::GET;
        let result = self
            .inner()
            .run(self.client(), request, idempotent)
            .instrument(span)
            .await;
        Ok(result.unwrap_or_else(carry::into_response))
    }
}
