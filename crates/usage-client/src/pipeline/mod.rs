//! The request pipeline: every one of the eleven operations runs through the same phases,
//! named after smithy-rs's orchestrator:
//!
//! 1. **authenticate**: the bearer token from the client's token source;
//! 2. **attempt**: one send, the answer read within its caps and decoded as it arrives
//!    (attempt.rs, decode.rs);
//! 3. **classify**: finish, retry, or renew the token and replay once (retry's classifier);
//! 4. **retry or finish**: the client's one retry loop (retry's driver), under the policy,
//!    the caller's deadline and the client-wide retry quota;
//! 5. **finish**: the last attempt's outcome as a typed [`UsageError`], with the attempts
//!    and the time of the whole call.
//!
//! Tracing, caps, redirects and errors are therefore the same for every operation. The
//! generated facade (api.rs) hands each call here with the request progenitor built.

mod attempt;
mod decode;
mod streaming;
mod trace;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use tracing::Instrument as _;

pub use attempt::UNREADABLE_ERROR_BODY;
pub(crate) use decode::{Decoder, Rows, Whole};

use crate::auth::{TokenSource, bearer_value};
use crate::clock::Clock;
use crate::error::{AuthError, UsageError};
use crate::operations::OperationSpec;
use crate::retry::{self, Class, RetryPolicy, RetryQuota, Retrying, Stop, Tally, Turn, Verdict};
use crate::secret::Secret;
use crate::sends::Sends;
use crate::transport::body::DEFAULT_MAX_RESPONSE_BYTES;
use crate::transport::path_guard;
use attempt::Failed;

/// `genesys-usage-rs/<version>`: lets Genesys support tell this SDK's traffic apart.
pub const USER_AGENT_VALUE: &str = concat!("genesys-usage-rs/", env!("CARGO_PKG_VERSION"));

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
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// What a client and all its clones share: one connection pool, one token source, one
/// retry quota, one clock.
#[derive(Debug)]
pub(crate) struct Shared {
    pub http: reqwest::Client,
    pub api_base: String,
    pub auth: Option<Arc<dyn TokenSource>>,
    pub quota: Arc<RetryQuota>,
    pub sends: Arc<Sends>,
    pub clock: Arc<dyn Clock>,
    pub rng: Mutex<fastrand::Rng>,
    pub limits: Limits,
}

/// The pipeline of one client: what it shares, and the retry policy of its calls.
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    retry: Arc<RetryPolicy>,
}

/// Why a call failed, before its attempts and time are known.
enum Failure {
    /// A send that did not give a documented success.
    Sent(Failed),
    /// No token could be had.
    Auth(AuthError),
    /// The request cannot be sent again.
    Invalid(String),
}

impl Pipeline {
    pub(crate) fn new(shared: Shared, retry: RetryPolicy) -> Self {
        Self {
            shared: Arc::new(shared),
            retry: Arc::new(retry),
        }
    }

    pub fn requests_sent(&self) -> u64 {
        self.shared.sends.get()
    }

    /// The same client (connections, tokens, quota) with another retry policy.
    pub(crate) fn with_retry_policy(&self, retry: RetryPolicy) -> Self {
        Self {
            shared: self.shared.clone(),
            retry: Arc::new(retry),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Gets a token now, so that bad credentials surface as a typed [`AuthError`] before
    /// any API call. A client without a token source succeeds.
    pub(crate) async fn authenticate(&self) -> Result<(), AuthError> {
        match &self.shared.auth {
            Some(auth) => bearer_value(&auth.token().await?).map(drop),
            None => Ok(()),
        }
    }

    /// Runs one call of `op` through every phase, decoding its success body with `D`.
    pub(crate) async fn invoke<D: Decoder>(
        &self,
        op: &'static OperationSpec,
        mut request: reqwest::Request,
    ) -> Result<D::Output, UsageError> {
        let shared = &self.shared;
        path_guard::check(&shared.api_base, op, request.url())
            .map_err(UsageError::InvalidRequest)?;
        request
            .headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        let idempotent = request.method() == Method::GET;
        let seed = shared.rng.lock().unwrap_or_else(|e| e.into_inner()).u64(..);
        let call = Call {
            pipeline: self,
            op,
            idempotent,
            started: shared.clock.now(),
            span: trace::request_span(op),
            renewed: Mutex::new(None),
        };
        let with = Retrying {
            policy: &self.retry,
            quota: &shared.quota,
            clock: shared.clock.as_ref(),
            seed,
        };
        let span = call.span.clone();
        let (result, tally) = retry::drive(with, |turn| call.attempt::<D>(&request, turn))
            .instrument(span)
            .await;
        finish(result, tally, idempotent)
    }
}

/// The state of one call across its attempts.
struct Call<'a> {
    pipeline: &'a Pipeline,
    op: &'static OperationSpec,
    idempotent: bool,
    started: tokio::time::Instant,
    span: tracing::Span,
    /// The token a 401 made the source renew, for the replay.
    renewed: Mutex<Option<Secret>>,
}

impl Call<'_> {
    /// Phases 1 to 3 for one send: authenticate, attempt, classify.
    async fn attempt<D: Decoder>(
        &self,
        template: &reqwest::Request,
        turn: Turn,
    ) -> Verdict<D::Output, Failure> {
        let shared = &self.pipeline.shared;
        let Some(mut request) = template.try_clone() else {
            return Verdict::Done(Err(Failure::Invalid(format!(
                "{}: the request body cannot be sent again",
                self.op.operation_id
            ))));
        };
        // 1. authenticate
        let mut token = None;
        if let Some(auth) = &shared.auth {
            let renewed = self
                .renewed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let current = match renewed {
                Some(current) => Ok(current),
                None => auth.token().await,
            };
            let header = current.and_then(|t| bearer_value(&t).map(|v| (t, v)));
            match header {
                Ok((current, value)) => {
                    request.headers_mut().insert(AUTHORIZATION, value);
                    token = Some(current);
                }
                Err(e) => return Verdict::Done(Err(Failure::Auth(e))),
            }
        }
        *request.timeout_mut() = match (shared.limits.timeout, turn.left) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        };
        // 2. attempt
        let sent_at = shared.clock.now();
        shared.sends.add();
        let outcome = attempt::send::<D>(
            &shared.http,
            request,
            self.op,
            shared.limits.max_response_bytes,
        )
        .await;
        let now = shared.clock.now();
        trace::record_attempt(
            &self.span,
            turn.number,
            (now - sent_at).as_millis() as u64,
            (now - self.started).as_millis() as u64,
            &outcome,
        );
        // 3. classify
        let failed = match outcome {
            Ok(success) => return Verdict::Done(Ok(success.output)),
            Err(failed) => failed,
        };
        match failed.class(self.idempotent) {
            Class::Done => Verdict::Done(Err(Failure::Sent(failed))),
            Class::Retry { retry_after } => Verdict::Retry {
                timeout: failed.timed_out(),
                error: Failure::Sent(failed),
                retry_after,
            },
            Class::Reauthenticate => {
                self.reauthenticate(Failure::Sent(failed), token, turn.replayed)
                    .await
            }
        }
    }

    /// A 401: the token source renews the refused token once, and the call replays.
    async fn reauthenticate<T>(
        &self,
        failure: Failure,
        rejected: Option<Secret>,
        replayed: bool,
    ) -> Verdict<T, Failure> {
        let (Some(auth), Some(rejected)) = (&self.pipeline.shared.auth, rejected) else {
            return Verdict::Done(Err(failure));
        };
        if replayed {
            return Verdict::Done(Err(failure));
        }
        match auth.refresh(&rejected).await {
            Ok(renewed) => {
                *self.renewed.lock().unwrap_or_else(|e| e.into_inner()) = Some(renewed);
                Verdict::Replay(failure)
            }
            // The login service may come back: say so, not "401".
            Err(error) if error.is_transient() => Verdict::Done(Err(Failure::Auth(error))),
            Err(error) => {
                tracing::warn!(%error, "the API refused the token and renewing it failed");
                Verdict::Done(Err(failure))
            }
        }
    }
}

/// Phase 5: the caller's error for the last attempt, with the attempts and time of the
/// whole call. A POST that may have reached the service and did not get a clear answer is
/// `OutcomeUnknown`: never replayed, never "transient".
fn finish<T>(
    result: Result<T, Stop<Failure>>,
    tally: Tally,
    idempotent: bool,
) -> Result<T, UsageError> {
    let Tally { attempts, elapsed } = tally;
    let failure = match result {
        Ok(output) => return Ok(output),
        Err(Stop::Deadline) => return Err(UsageError::DeadlineExceeded { attempts, elapsed }),
        Err(Stop::Failed(failure)) => failure,
    };
    let (error, delivered) = match failure {
        Failure::Sent(failed) => failed.into_error(attempts, elapsed),
        Failure::Auth(error) => (UsageError::Auth(error), false),
        Failure::Invalid(why) => (UsageError::InvalidRequest(why), false),
    };
    if !idempotent && delivered {
        return Err(UsageError::OutcomeUnknown {
            cause: Box::new(error),
        });
    }
    Err(error)
}
