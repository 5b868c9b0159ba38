//! Access tokens: where they come from, how long they are kept, and what failure means.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::time::Instant;

use crate::clock::{BoxFuture, Clock};
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
    /// The login service could not be reached.
    #[error(
        "could not reach the login service at {url}: {source}; check the network, any proxy, and GENESYSCLOUD_REGION"
    )]
    Network {
        /// The token endpoint.
        url: String,
        /// What the HTTP stack said.
        #[source]
        source: reqwest::Error,
    },
    /// The login service failed or is rate limiting; a later try may work.
    #[error("the login service at {url} is unavailable ({status}); try again later")]
    Unavailable {
        /// The token endpoint.
        url: String,
        /// The HTTP status (429 or 5xx).
        status: u16,
    },
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
            AuthError::Network { .. } | AuthError::Unavailable { .. }
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
    pub jitter_seed: u64,
}

struct CachedToken {
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
    jitter_seed: u64,
    cache: Mutex<Option<CachedToken>>,
    // Held while fetching, so a burst of requests on an expired token makes one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
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
    expires_in: Option<u64>,
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
            jitter_seed: with.jitter_seed,
            cache: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many token requests this source has sent.
    pub fn token_requests(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self, unless: Option<&Secret>) -> Option<Secret> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|c| self.clock.now() < c.refresh_at)
            .filter(|c| unless != Some(&c.token))
            .map(|c| c.token.clone())
    }

    /// Fetches a token, retrying while the login service is unreachable or unavailable
    /// (asking for a token twice is harmless), with the client's retry policy.
    async fn fetch(&self) -> Result<Secret, AuthError> {
        let mut backoff = self.retry.backoff(self.jitter_seed);
        loop {
            match self.fetch_once().await {
                Err(error) if error.is_transient() => match backoff.next() {
                    Some(wait) => {
                        tracing::debug!(%error, wait_ms = wait.as_millis() as u64, "retrying the token request");
                        self.clock.sleep(wait).await;
                    }
                    None => return Err(error),
                },
                done => return done,
            }
        }
    }

    async fn fetch_once(&self) -> Result<Secret, AuthError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let url = &self.token_url;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose()
        ));
        let mut authorization = reqwest::header::HeaderValue::try_from(format!("Basic {basic}"))
            .map_err(|_| AuthError::MalformedToken {
                url: url.clone(),
                reason: "the client id or secret holds characters a header cannot carry".into(),
            })?;
        authorization.set_sensitive(true);
        let sent_at = self.clock.now();
        let response = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|source| AuthError::Network {
                url: url.clone(),
                source: source.without_url(),
            })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|source| AuthError::Network {
                url: url.clone(),
                source: source.without_url(),
            })?;
        match status {
            200..=299 => {}
            400 | 401 | 403 => {
                let parsed = serde_json::from_slice::<TokenErrorResponse>(&body).ok();
                let (error, description) = parsed
                    .map(|p| (p.error, p.error_description))
                    .unwrap_or_default();
                return Err(AuthError::InvalidCredentials {
                    url: url.clone(),
                    status,
                    error: error.unwrap_or_else(|| "unknown_error".into()),
                    description: description.unwrap_or_default(),
                });
            }
            404 | 405 => {
                return Err(AuthError::WrongEndpoint {
                    url: url.clone(),
                    status,
                });
            }
            _ => {
                return Err(AuthError::Unavailable {
                    url: url.clone(),
                    status,
                });
            }
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| AuthError::MalformedToken {
                url: url.clone(),
                reason: format!("not a token response: {e}"),
            })?;
        let token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::MalformedToken {
                url: url.clone(),
                reason: "access_token is missing".into(),
            })?;
        // Genesys tokens live 5 minutes to 48 hours; a missing expiry is treated as the
        // shortest lifetime rather than forever.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
        let margin = self.refresh_margin.min(lifetime / 2);
        let token = Secret::new(token);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedToken {
            token: token.clone(),
            refresh_at: sent_at + lifetime - margin,
        });
        tracing::debug!(lifetime_s = lifetime.as_secs(), "fetched an access token");
        Ok(token)
    }
}

impl TokenSource for ClientCredentials {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        Box::pin(async move {
            if let Some(token) = self.cached(None) {
                return Ok(token);
            }
            let _fetching = self.fetch_lock.lock().await;
            // Whoever held the lock before us may have fetched a token already.
            if let Some(token) = self.cached(None) {
                return Ok(token);
            }
            self.fetch().await
        })
    }

    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            let _fetching = self.fetch_lock.lock().await;
            // A concurrent request may already have replaced the refused token.
            if let Some(token) = self.cached(Some(rejected)) {
                return Ok(token);
            }
            self.fetch().await
        })
    }
}
