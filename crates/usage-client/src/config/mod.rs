//! Building a client: from the environment, or step by step in code.

mod region;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use region::{Endpoints, Region};

use crate::auth::{ClientCredentials, StaticToken, TokenFetching, TokenSource};
use crate::client::Client;
use crate::clock::{Clock, TokioClock};
use crate::env;
use crate::error::{ConfigError, TransportError};
use crate::pipeline::{Limits, Pipeline, Shared, USER_AGENT_VALUE};
use crate::retry::{RetryPolicy, RetryQuota};
use crate::secret::Secret;
use crate::sends::Sends;
use crate::transport::body::DEFAULT_MAX_RESPONSE_BYTES;
use crate::transport::proxy::ProxyChoice;

enum AuthConfig {
    None,
    AccessToken(Secret),
    ClientCredentials { id: String, secret: Secret },
    Source(Arc<dyn TokenSource>),
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthConfig::None => f.write_str("None"),
            AuthConfig::AccessToken(t) => f.debug_tuple("AccessToken").field(t).finish(),
            AuthConfig::ClientCredentials { id, secret } => f
                .debug_struct("ClientCredentials")
                .field("id", id)
                .field("secret", secret)
                .finish(),
            AuthConfig::Source(s) => f.debug_tuple("Source").field(s).finish(),
        }
    }
}

/// Builds a [`Client`]. Defaults: region us-east-1, [`RetryPolicy::default`], 30 s per
/// attempt, 10 s to connect, success bodies up to 512 MiB, the proxy from `HTTPS_PROXY`
/// (see [`proxy`](Self::proxy)), and redirects never followed.
#[derive(Debug)]
pub struct ClientBuilder {
    endpoints: Result<Endpoints, ConfigError>,
    credentials: AuthConfig,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    refresh_margin: Duration,
    clock: Arc<dyn Clock>,
    jitter_seed: Option<u64>,
    max_response_bytes: u64,
    proxy: ProxyChoice,
}

impl Default for ClientBuilder {
    /// The defaults, with the proxy from the process environment.
    fn default() -> Self {
        Self::with_proxy(ProxyChoice::from_env_with(|name| std::env::var(name).ok()))
    }
}

impl ClientBuilder {
    /// The defaults with `proxy`, so that `from_env_with` reads the environment once.
    fn with_proxy(proxy: ProxyChoice) -> Self {
        Self {
            endpoints: Ok(Endpoints::region(Region::UsEast1)),
            credentials: AuthConfig::None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            refresh_margin: ClientCredentials::DEFAULT_REFRESH_MARGIN,
            clock: Arc::new(TokioClock),
            jitter_seed: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            proxy,
        }
    }

    /// Reads the `GENESYSCLOUD_*` variables (see [`env`](mod@crate::env)) and the proxy
    /// variables (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`) through `lookup`; the other
    /// settings keep their defaults. An access token wins over client credentials.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self::with_proxy(ProxyChoice::from_env_with(&lookup));
        if let Some(region) = get(env::REGION) {
            builder = builder.region(region.parse()?);
        }
        let id = get(env::CLIENT_ID);
        let secret = get(env::CLIENT_SECRET);
        builder.credentials = match (get(env::ACCESS_TOKEN), id, secret) {
            (Some(token), _, _) => AuthConfig::AccessToken(Secret::new(token)),
            (None, Some(id), Some(secret)) => AuthConfig::ClientCredentials {
                id,
                secret: Secret::new(secret),
            },
            (None, Some(_), None) => {
                return Err(ConfigError::IncompleteCredentials {
                    missing: env::CLIENT_SECRET,
                    present: env::CLIENT_ID,
                });
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::IncompleteCredentials {
                    missing: env::CLIENT_ID,
                    present: env::CLIENT_SECRET,
                });
            }
            (None, None, None) => return Err(ConfigError::MissingCredentials),
        };
        Ok(builder)
    }

    /// Reads the process environment; see [`from_env_with`](Self::from_env_with).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Talks to a region's API and login hosts.
    pub fn region(mut self, region: Region) -> Self {
        self.endpoints = Ok(Endpoints::region(region));
        self
    }

    /// Talks to custom base URLs (a proxy, a fake service). `https://` only, except for
    /// loopback hosts; checked by [`build`](Self::build).
    pub fn base_urls(mut self, api: &str, login: &str) -> Self {
        self.endpoints = Endpoints::custom(api, login);
        self
    }

    /// One base URL for both the API and the login service (a fake service).
    pub fn base_url(self, url: &str) -> Self {
        self.base_urls(url, url)
    }

    /// OAuth client credentials; tokens are fetched, cached and renewed.
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.credentials = AuthConfig::ClientCredentials {
            id: id.into(),
            secret: secret.into(),
        };
        self
    }

    /// A fixed access token, never renewed.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.credentials = AuthConfig::AccessToken(token.into());
        self
    }

    /// Any token source.
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.credentials = AuthConfig::Source(source);
        self
    }

    /// How transient failures are retried; [`RetryPolicy::disabled`] turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The longest one attempt may take, connection to last byte.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long before expiry a token is renewed (at most half its lifetime).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The clock for token expiry, backoff waits and the retry budget (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The largest success body the client reads, in bytes (default 512 MiB: the largest
    /// legitimate answer measured, 1,000,000 rows, is 372 MB). A larger answer fails with
    /// [`UsageError::ResponseTooLarge`](crate::UsageError::ResponseTooLarge) as soon as its
    /// `Content-Length` or its counted bytes pass the cap. Error bodies are capped at 1 MiB
    /// and token answers at 64 KiB, whatever this says.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends `https://` requests through this proxy (`http://host:port`, with
    /// `user:password@` if it needs them), by `CONNECT`, so TLS stays end to end. Plain
    /// `http://` requests (loopback only) and loopback hosts never use a proxy. Without this
    /// call the proxy comes from `HTTPS_PROXY` (or `ALL_PROXY`), minus the hosts in
    /// `NO_PROXY`; `HTTP_PROXY` is never used.
    pub fn proxy(mut self, url: impl Into<Secret>) -> Self {
        self.proxy = ProxyChoice::Url(url.into());
        self
    }

    /// Uses no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Off;
        self
    }

    /// Fixes the jitter's random sequence (tests, reproducible runs).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Builds the client: one connection pool and one token cache, shared by its clones.
    pub fn build(self) -> Result<Client, ConfigError> {
        let endpoints = self.endpoints?;
        self.retry
            .validate()
            .map_err(ConfigError::InvalidRetryPolicy)?;
        if self.max_response_bytes == 0 {
            return Err(ConfigError::InvalidMaxResponseBytes);
        }
        // The Usage API and its login service never redirect; following one would send a
        // POST's outcome, credentials or a token somewhere else (see retry.rs).
        let plain_http = [endpoints.api(), endpoints.login()]
            .iter()
            .all(|url| url.starts_with("http://"));
        let tls = tls_config(plain_http)?;
        let mut http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(USER_AGENT_VALUE)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = self.proxy.build().map_err(ConfigError::InvalidProxy)? {
            http = http.proxy(proxy);
        }
        let http = http
            .build()
            .map_err(|e| ConfigError::Http(TransportError::new(e)))?;
        let quota = Arc::new(RetryQuota::default());
        let sends = Arc::new(Sends::default());
        let auth: Option<Arc<dyn TokenSource>> = match self.credentials {
            AuthConfig::None => None,
            AuthConfig::AccessToken(token) => Some(Arc::new(StaticToken::new(token))),
            AuthConfig::ClientCredentials { id, secret } => Some(Arc::new(ClientCredentials::new(
                id,
                secret,
                endpoints.login(),
                TokenFetching {
                    http: http.clone(),
                    clock: self.clock.clone(),
                    refresh_margin: self.refresh_margin,
                    retry: self.retry.clone(),
                    quota: quota.clone(),
                    sends: sends.clone(),
                    timeout: Some(self.timeout),
                    jitter_seed: self.jitter_seed.unwrap_or_else(|| fastrand::u64(..)),
                },
            ))),
            AuthConfig::Source(source) => Some(source),
        };
        let limits = Limits {
            timeout: Some(self.timeout),
            max_response_bytes: self.max_response_bytes,
        };
        let rng = self
            .jitter_seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let shared = Shared {
            http,
            api_base: endpoints.api().to_string(),
            auth,
            quota,
            sends,
            clock: self.clock,
            rng: Mutex::new(rng),
            limits,
        };
        Ok(Client::from_pipeline(Pipeline::new(shared, self.retry)))
    }
}

/// With `tls-ring` alone, reqwest has no crypto provider of its own: ring becomes the
/// process's rustls default, unless the application installed one already.
#[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc-rs")))]
fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(not(all(feature = "tls-ring", not(feature = "tls-aws-lc-rs"))))]
fn install_tls_provider() {}

#[cfg(not(any(feature = "tls-ring", feature = "tls-aws-lc-rs")))]
compile_error!(
    "usage-client needs a TLS provider: enable the feature `tls-aws-lc-rs` (the default) or `tls-ring`"
);

/// The TLS configuration of a client: none used for plain http (loopback only), else
/// rustls with the platform's verifier; the crypto provider installed first.
fn tls_config(plain_http: bool) -> Result<rustls::ClientConfig, ConfigError> {
    install_tls_provider();
    if plain_http {
        crate::transport::tls::unused()
    } else {
        crate::transport::tls::verifying()
    }
    .map_err(ConfigError::Tls)
}

/// A reqwest builder for a request to another service than the Usage API (a webhook an
/// alert goes to), with this crate's transport: rustls with the platform's roots (or none
/// for a plain-http URL, which only a loopback host may use), its user agent, no redirect
/// followed (a webhook that redirects would get the alert's body elsewhere) and the proxy
/// of the environment for https (`HTTPS_PROXY`, `NO_PROXY`; never for plain http).
pub fn outbound_http(plain_http: bool) -> Result<reqwest::ClientBuilder, ConfigError> {
    let tls = tls_config(plain_http)?;
    let mut http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(USER_AGENT_VALUE)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    let proxy = ProxyChoice::from_env_with(|name| std::env::var(name).ok());
    if let Some(proxy) = proxy.build().map_err(ConfigError::InvalidProxy)? {
        http = http.proxy(proxy);
    }
    Ok(http)
}

impl Client {
    /// A builder with the defaults of [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `GENESYSCLOUD_OAUTHCLIENT_ID`/`_SECRET` (or
    /// `GENESYSCLOUD_ACCESS_TOKEN`) and `GENESYSCLOUD_REGION` (default us-east-1).
    pub fn from_env() -> Result<Client, ConfigError> {
        ClientBuilder::from_env()?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// reqwest builds its TLS configuration in `build()`: with `tls-ring` alone it would
    /// panic there if no crypto provider were installed.
    #[test]
    fn an_https_client_builds_with_the_configured_tls_provider() {
        let client = Client::builder()
            .region(Region::EuWest1)
            .access_token("token")
            .no_proxy()
            .build();
        assert!(client.is_ok(), "{client:?}");
    }
}
