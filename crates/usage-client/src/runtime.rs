//! The hand-written runtime the generated client carries as its inner value: it adds the
//! user agent and the bearer token to each request, retries transient failures, replays
//! once after a 401 with a renewed token, and traces every attempt. It acts through
//! progenitor's `ClientHooks`, which is why it lives in this crate.

use std::sync::{Arc, Mutex};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use tracing::Instrument as _;

use crate::auth::{AuthError, TokenSource};
use crate::clock::{Clock, TokioClock};
use crate::retry::{self, RetryPolicy, Verdict};
use crate::secret::Secret;
use crate::{Client, OPERATIONS, path_guard};

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
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new(None, RetryPolicy::disabled(), Arc::new(TokioClock), None)
    }
}

impl Runtime {
    pub(crate) fn new(
        auth: Option<Arc<dyn TokenSource>>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
        jitter_seed: Option<u64>,
    ) -> Self {
        let rng = jitter_seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self(Arc::new(Inner {
            auth,
            retry,
            clock,
            rng: Mutex::new(rng),
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

    /// Gets a token now, so that bad credentials surface as a typed [`AuthError`] before
    /// any API call. A client without a token source succeeds.
    pub async fn authenticate(&self) -> Result<(), AuthError> {
        match &self.0.auth {
            Some(auth) => auth.token().await.map(drop),
            None => Ok(()),
        }
    }

    fn backoff_seed(&self) -> u64 {
        self.0.rng.lock().unwrap_or_else(|e| e.into_inner()).u64(..)
    }

    async fn execute(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        idempotent: bool,
    ) -> reqwest::Result<reqwest::Response> {
        readable_error_body(self.send(http, request, idempotent).await).await
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        idempotent: bool,
    ) -> reqwest::Result<reqwest::Response> {
        let inner = &self.0;
        let span = tracing::Span::current();
        let started = inner.clock.now();
        let mut backoff = inner.retry.backoff(self.backoff_seed());
        let mut reauthenticated = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // A body that cannot be copied (a stream) is sent once, without retries.
            let spare = request.try_clone();
            let sent_at = inner.clock.now();
            let mut outcome = http.execute(request).await;
            if idempotent {
                outcome = buffered(outcome).await;
            }
            let now = inner.clock.now();
            span.record("duration_ms", (now - started).as_millis() as u64);
            record_attempt(&span, attempt, (now - sent_at).as_millis() as u64, &outcome);
            let Some(mut next) = spare else {
                return outcome;
            };
            match retry::classify(idempotent, &outcome) {
                Verdict::Done => return outcome,
                Verdict::Reauthenticate => {
                    let Some(auth) = inner.auth.as_ref().filter(|_| !reauthenticated) else {
                        return outcome;
                    };
                    reauthenticated = true;
                    let Some(rejected) = bearer(&next) else {
                        return outcome;
                    };
                    match auth.refresh(&rejected).await {
                        Ok(token) => set_bearer(&mut next, &token),
                        Err(error) => {
                            tracing::warn!(%error, "the API refused the token and renewing it failed");
                            return outcome;
                        }
                    }
                    tracing::debug!(attempt, "replaying once with a renewed token");
                }
                Verdict::Retry { retry_after } => {
                    let Some(mut wait) = backoff.next() else {
                        return outcome;
                    };
                    if let Some(asked) = retry_after {
                        if asked > inner.retry.max_retry_after {
                            tracing::debug!(
                                retry_after_s = asked.as_secs(),
                                "Retry-After is past the policy's cap; not waiting"
                            );
                            return outcome;
                        }
                        wait = wait.max(asked);
                    }
                    if inner.clock.now() - started + wait > inner.retry.max_elapsed {
                        return outcome;
                    }
                    // Kept (as bytes, not a held connection) in case no token can be had
                    // after the wait; a GET's answer is already read.
                    if !idempotent {
                        outcome = buffered(outcome).await;
                    }
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    inner.clock.sleep(wait).await;
                    // The wait can outlast the token the request carried: ask again after it.
                    if let Some(auth) = &inner.auth {
                        match auth.token().await {
                            Ok(token) => set_bearer(&mut next, &token),
                            Err(_) => return outcome,
                        }
                    }
                }
            }
            request = next;
        }
    }
}

/// Reads a GET's body before judging the attempt, so a connection that breaks mid-body is
/// retried like one that breaks before the headers. The bytes are handed on as they are:
/// the generated code would read the whole body into one buffer anyway.
async fn buffered(
    outcome: reqwest::Result<reqwest::Response>,
) -> reqwest::Result<reqwest::Response> {
    let response = outcome?;
    let head = (
        response.status(),
        response.version(),
        response.headers().clone(),
    );
    let body = response.bytes().await?;
    Ok(rebuild(head, body))
}

/// A response from a head kept aside and a body already read.
fn rebuild(
    (status, version, headers): (
        reqwest::StatusCode,
        reqwest::Version,
        reqwest::header::HeaderMap,
    ),
    body: bytes::Bytes,
) -> reqwest::Response {
    let mut parts = http::Response::new(body);
    *parts.status_mut() = status;
    *parts.version_mut() = version;
    *parts.headers_mut() = headers;
    reqwest::Response::from(parts)
}

/// An error status whose body is not an `ErrorBody` (a proxy's HTML page, an empty body)
/// would reach the caller as a decoding failure with its status lost. Such a body is
/// replaced by an `ErrorBody` that keeps the status and quotes the start of what came, with
/// a code that says the SDK wrote it.
async fn readable_error_body(
    outcome: reqwest::Result<reqwest::Response>,
) -> reqwest::Result<reqwest::Response> {
    let response = match outcome {
        Ok(r) if r.status().is_client_error() || r.status().is_server_error() => r,
        other => return other,
    };
    let (status, version, mut headers) = (
        response.status(),
        response.version(),
        response.headers().clone(),
    );
    let body = response.bytes().await?;
    let body = if serde_json::from_slice::<usage_models::ErrorBody>(&body).is_ok() {
        body
    } else {
        let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        let replacement = usage_models::ErrorBody {
            status: Some(i32::from(status.as_u16())),
            code: Some(UNREADABLE_ERROR_BODY.into()),
            message: Some(format!(
                "the service answered {status} with a body that is not an ErrorBody: {shown:?}"
            )),
            ..usage_models::ErrorBody::default()
        };
        headers.remove(reqwest::header::CONTENT_LENGTH);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        serde_json::to_vec(&replacement).unwrap_or_default().into()
    };
    Ok(rebuild((status, version, headers), body))
}

/// `ErrorBody::code` of an error answer whose body the SDK replaced (see above).
pub const UNREADABLE_ERROR_BODY: &str = "sdk.unreadable.error.body";

fn record_attempt(
    span: &tracing::Span,
    attempt: u32,
    duration_ms: u64,
    outcome: &reqwest::Result<reqwest::Response>,
) {
    span.record("attempt", attempt);
    match outcome {
        Ok(response) => {
            let status = response.status().as_u16();
            let correlation_id = response
                .headers()
                .get(CORRELATION_ID_HEADER)
                .and_then(|v| v.to_str().ok());
            span.record("status", status);
            if let Some(id) = correlation_id {
                span.record("correlation_id", id);
            }
            tracing::debug!(attempt, status, duration_ms, correlation_id, "response");
        }
        Err(error) => {
            tracing::debug!(attempt, duration_ms, error = %error.without_url_ref(), "request failed");
        }
    }
}

/// reqwest's error text names the URL; ids in it are not secret, but the text stays short.
trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        text
    }
}

fn bearer(request: &reqwest::Request) -> Option<Secret> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(Secret::new)
}

fn set_bearer(request: &mut reqwest::Request, token: &Secret) {
    if let Ok(mut value) = HeaderValue::try_from(format!("Bearer {}", token.expose())) {
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
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
        if let Some(auth) = &self.inner().0.auth {
            let token = auth.token().await.map_err(|e| {
                progenitor_client::Error::Custom(format!("authentication failed: {e}"))
            })?;
            set_bearer(request, &token);
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let spec = OPERATIONS.iter().find(|op| op.name == info.operation_id);
        let method = request.method().as_str().to_string();
        let span = tracing::info_span!(
            "usage_api.request",
            operation_id = spec.map_or(info.operation_id, |s| s.operation_id),
            method = %method,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        let idempotent = request.method() == reqwest::Method::GET;
        self.inner()
            .execute(self.client(), request, idempotent)
            .instrument(span)
            .await
    }
}
