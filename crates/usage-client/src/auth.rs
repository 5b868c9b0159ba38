//! Access tokens: where they come from, how long they are kept, and what failure means.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::time::Instant;

use crate::body::{MAX_TOKEN_BODY_BYTES, ReadError, read_capped};
use crate::clock::{BoxFuture, Clock};
use crate::deadline;
use crate::error::fmt_attempts;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// Something that hands the client a bearer token before each request.
///
/// The client calls [`token`](Self::token) before every request and, when the API answers
/// 401, [`refresh`](Self::refresh) once with the token that was refused, then replays the
/// request once.
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// A token that is valid now (cached or fetched).
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>>;

    /// The API refused `rejected`: a different valid token, if one can be had.
    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>>;
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
        source: reqwest::Error,
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

/// A fixed access token (`GENESYSCLOUD_ACCESS_TOKEN`): used as is, never refreshed.
#[derive(Debug, Clone)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// Uses `token` for every request.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self(token.into())
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn refresh<'a>(&'a self, _rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async { Err(AuthError::TokenRejected) })
    }
}

/// What the client lends its token source: its HTTP pool, clock and retry policy.
pub(crate) struct TokenFetching {
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub refresh_margin: Duration,
    pub retry: RetryPolicy,
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
    timeout: Option<Duration>,
    jitter_seed: u64,
    cache: Mutex<Option<CachedToken>>,
    // Held while fetching, so a burst of requests on an expired token makes one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
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
            timeout: with.timeout,
            jitter_seed: with.jitter_seed,
            cache: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// How many token requests this source has sent.
    pub fn token_requests(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
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
    /// (asking for a token twice is harmless), with the client's retry policy, within the
    /// caller's deadline if one is set.
    async fn fetch(&self) -> Result<Secret, AuthError> {
        let mut backoff = self.retry.backoff(self.jitter_seed);
        let started = self.clock.now();
        let deadline = deadline::current();
        let mut attempts = 0u32;
        loop {
            let left = deadline.map(|d| deadline::remaining(d, self.clock.now()));
            if left == Some(Duration::ZERO) {
                return Err(AuthError::DeadlineExceeded {
                    url: self.token_url.clone(),
                    attempts,
                    elapsed: self.clock.now() - started,
                });
            }
            attempts += 1;
            let result = self.fetch_once(left).await;
            let elapsed = self.clock.now() - started;
            let error = match result {
                Ok(token) => return Ok(token),
                Err(Fetch::Network(source)) => AuthError::Network {
                    url: self.token_url.clone(),
                    source,
                    attempts,
                    elapsed,
                },
                Err(Fetch::Unavailable(status)) => AuthError::Unavailable {
                    url: self.token_url.clone(),
                    status,
                    attempts,
                    elapsed,
                },
                Err(Fetch::Final(error)) => return Err(error),
            };
            let Some(wait) = backoff.next() else {
                return Err(error);
            };
            let now = self.clock.now();
            let left = deadline.map(|d| deadline::remaining(d, now));
            if !self.retry.retry_fits(now - started, wait, left) {
                return Err(error);
            }
            tracing::debug!(%error, wait_ms = wait.as_millis() as u64, "retrying the token request");
            self.clock.sleep(wait).await;
        }
    }

    async fn fetch_once(&self, left: Option<Duration>) -> Result<Secret, Fetch> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
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
        let mut response = request
            .send()
            .await
            .map_err(|source| Fetch::Network(source.without_url()))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(Fetch::Final(AuthError::Redirected {
                url: url.clone(),
                status,
                location: crate::runtime::location(response.headers()),
            }));
        }
        let body = match read_capped(&mut response, MAX_TOKEN_BODY_BYTES).await {
            Ok(body) => body,
            Err(ReadError::Transport(source)) => return Err(Fetch::Network(source.without_url())),
            Err(ReadError::TooLarge { limit, .. }) => {
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
            _ => return Err(Fetch::Unavailable(status)),
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
        crate::runtime::bearer_value(&token).map_err(Fetch::Final)?;
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
    Unavailable(u16),
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
