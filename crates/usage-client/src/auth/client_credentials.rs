//! OAuth client credentials: tokens fetched from the login service, kept until shortly
//! before they expire, and shared by concurrent requests. A token request that fails
//! transiently is retried by the client's one retry loop, under its policy and quota.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::time::Instant;

use super::source::{TokenSource, bearer_value};
use crate::clock::{BoxFuture, Clock};
use crate::error::{AuthError, TransportError};
use crate::retry::{self, RetryPolicy, RetryQuota, Retrying, Stop, Verdict};
use crate::secret::Secret;
use crate::sends::Sends;
use crate::transport::body::{MAX_TOKEN_BODY_BYTES, ReadError, read_capped};

/// What the client lends its token source: its HTTP pool, clock and retry policy.
pub(crate) struct TokenFetching {
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub refresh_margin: Duration,
    pub retry: RetryPolicy,
    pub quota: Arc<RetryQuota>,
    pub sends: Arc<Sends>,
    pub timeout: Option<Duration>,
    pub jitter_seed: u64,
}

struct CachedToken {
    // Carries the number of the fetch that issued it (`Secret::issue`).
    token: Secret,
    refresh_at: Instant,
}

/// OAuth client credentials: fetches tokens from `POST <login>/oauth/token`, keeps them
/// until shortly before they expire, and lets concurrent requests share one fetch.
pub struct ClientCredentials {
    client_id: String,
    client_secret: Secret,
    token_url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    refresh_margin: Duration,
    retry: RetryPolicy,
    quota: Arc<RetryQuota>,
    sends: Arc<Sends>,
    timeout: Option<Duration>,
    jitter_seed: u64,
    cache: Mutex<Option<CachedToken>>,
    // Held while fetching, so a burst of requests on an expired token makes one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    // Successful fetches so far: a token's `issue`. Compared instead of token text, since
    // the login service may hand out the same text again.
    generation: AtomicU64,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("token_url", &self.token_url)
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    // Any JSON number: `1e19`, `-5` and `18446744073709551615` all arrive from broken
    // servers, and each is clamped rather than refused or trusted.
    expires_in: Option<serde_json::Number>,
}

/// The shortest lifetime a token is kept for, whatever the login service says: below it,
/// every request would fetch a token.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(10);

/// The longest: Genesys tokens live at most 48 hours.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// `expires_in` as a lifetime within [`MIN_TOKEN_LIFETIME`, `MAX_TOKEN_LIFETIME`]. A
/// missing expiry is treated as the shortest Genesys lifetime (5 minutes) rather than
/// forever.
fn lifetime(expires_in: Option<&serde_json::Number>) -> Duration {
    let seconds = match expires_in {
        None => 300.0,
        Some(n) => n.as_f64().filter(|s| s.is_finite()).unwrap_or(0.0),
    };
    let max = MAX_TOKEN_LIFETIME.as_secs_f64();
    Duration::from_secs_f64(seconds.clamp(0.0, max)).max(MIN_TOKEN_LIFETIME)
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

impl ClientCredentials {
    /// Tokens are renewed this long before they expire (at most half their lifetime), so
    /// a request never leaves with a token about to lapse.
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

    pub(crate) fn new(
        client_id: String,
        client_secret: Secret,
        login_base_url: &str,
        with: TokenFetching,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            token_url: format!("{login_base_url}/oauth/token"),
            http: with.http,
            clock: with.clock,
            refresh_margin: with.refresh_margin,
            retry: with.retry,
            quota: with.quota,
            sends: with.sends,
            timeout: with.timeout,
            jitter_seed: with.jitter_seed,
            cache: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    fn cached(&self) -> Option<Secret> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|c| self.clock.now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// The cached token if a fetch newer than `issue` made it, however short its life:
    /// callers that queued behind a fetch share its result instead of fetching again.
    fn newer_than(&self, issue: u64) -> Option<Secret> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|c| c.token.issue() > issue)
            .map(|c| c.token.clone())
    }

    /// Fetches a token, retrying while the login service is unreachable or unavailable
    /// (asking for a token twice is harmless), through the client's retry loop, within the
    /// caller's deadline if one is set. The error counts every token request sent.
    async fn fetch(&self) -> Result<Secret, AuthError> {
        let with = Retrying {
            policy: &self.retry,
            quota: &self.quota,
            clock: self.clock.as_ref(),
            seed: self.jitter_seed,
        };
        let (result, tally) = retry::drive(with, |turn| async move {
            match self.fetch_once(turn.left).await {
                Ok(token) => Verdict::Done(Ok(token)),
                Err(Fetch::Network(source)) => Verdict::Retry {
                    timeout: source.is_timeout(),
                    error: Fetch::Network(source),
                    retry_after: None,
                },
                Err(Fetch::Unavailable(status, retry_after)) => Verdict::Retry {
                    error: Fetch::Unavailable(status, retry_after),
                    retry_after,
                    timeout: false,
                },
                Err(error @ Fetch::Final(_)) => Verdict::Done(Err(error)),
            }
        })
        .await;
        let url = self.token_url.clone();
        let (attempts, elapsed) = (tally.attempts, tally.elapsed);
        result.map_err(|stop| match stop {
            Stop::Deadline => AuthError::DeadlineExceeded {
                url,
                attempts,
                elapsed,
            },
            Stop::Failed(Fetch::Network(source)) => AuthError::Network {
                url,
                source: TransportError::new(source),
                attempts,
                elapsed,
            },
            Stop::Failed(Fetch::Unavailable(status, _)) => AuthError::Unavailable {
                url,
                status,
                attempts,
                elapsed,
            },
            Stop::Failed(Fetch::Final(error)) => error,
        })
    }

    async fn fetch_once(&self, left: Option<Duration>) -> Result<Secret, Fetch> {
        let url = &self.token_url;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose()
        ));
        let mut authorization = reqwest::header::HeaderValue::try_from(format!("Basic {basic}"))
            .map_err(|_| {
                Fetch::Final(AuthError::MalformedToken {
                    url: url.clone(),
                    reason: "the client id or secret holds characters a header cannot carry".into(),
                })
            })?;
        authorization.set_sensitive(true);
        let sent_at = self.clock.now();
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body("grant_type=client_credentials");
        if let Some(left) = left {
            request = request.timeout(self.timeout.map_or(left, |t| t.min(left)));
        }
        self.sends.add();
        let mut response = request
            .send()
            .await
            .map_err(|source| Fetch::Network(source.without_url()))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(Fetch::Final(AuthError::Redirected {
                url: url.clone(),
                status,
                location: crate::transport::body::location(response.headers()),
            }));
        }
        let body = match read_capped(&mut response, MAX_TOKEN_BODY_BYTES).await {
            Ok(body) => body,
            Err(ReadError::Transport(source)) => return Err(Fetch::Network(source.without_url())),
            Err(ReadError::TooLarge { limit }) => {
                return Err(Fetch::Final(AuthError::ResponseTooLarge {
                    url: url.clone(),
                    limit,
                }));
            }
        };
        match status {
            200..=299 => {}
            400 | 401 | 403 => {
                let parsed = serde_json::from_slice::<TokenErrorResponse>(&body).ok();
                let (error, description) = parsed
                    .map(|p| (p.error, p.error_description))
                    .unwrap_or_default();
                return Err(Fetch::Final(AuthError::InvalidCredentials {
                    url: url.clone(),
                    status,
                    error: error.unwrap_or_else(|| "unknown_error".into()),
                    description: description.unwrap_or_default(),
                }));
            }
            404 | 405 => {
                return Err(Fetch::Final(AuthError::WrongEndpoint {
                    url: url.clone(),
                    status,
                }));
            }
            _ => {
                return Err(Fetch::Unavailable(
                    status,
                    retry::retry_after(response.headers()),
                ));
            }
        }
        let malformed = |reason: String| {
            Fetch::Final(AuthError::MalformedToken {
                url: url.clone(),
                reason,
            })
        };
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| malformed(format!("not a token response: {e}")))?;
        let token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed("access_token is missing".into()))?;
        let lifetime = lifetime(parsed.expires_in.as_ref());
        let margin = self.refresh_margin.min(lifetime / 2);
        let issue = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let token = Secret::issued(token, issue);
        // Refused here, once, rather than on every request that would carry it.
        bearer_value(&token).map_err(Fetch::Final)?;
        let refresh_at = sent_at
            .checked_add(lifetime - margin)
            .unwrap_or_else(|| self.clock.now() + MIN_TOKEN_LIFETIME);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedToken {
            token: token.clone(),
            refresh_at,
        });
        tracing::debug!(lifetime_s = lifetime.as_secs(), "fetched an access token");
        Ok(token)
    }
}

/// One token request's failure, before attempts and time are known.
enum Fetch {
    Network(reqwest::Error),
    /// 429 or 5xx, with the wait the service named.
    Unavailable(u16, Option<Duration>),
    Final(AuthError),
}

impl TokenSource for ClientCredentials {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        Box::pin(async move {
            if let Some(token) = self.cached() {
                return Ok(token);
            }
            let seen = self.generation.load(Ordering::Relaxed);
            let _fetching = self.fetch_lock.lock().await;
            // Whoever held the lock before us may have fetched a token already.
            if let Some(token) = self.newer_than(seen).or_else(|| self.cached()) {
                return Ok(token);
            }
            self.fetch().await
        })
    }

    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            let _fetching = self.fetch_lock.lock().await;
            // A concurrent request may already have replaced the refused token: any token
            // issued after it counts, even one with the same text.
            if let Some(token) = self.newer_than(rejected.issue()) {
                return Ok(token);
            }
            self.fetch().await
        })
    }
}
