//! The client users hold: the eleven operations (api.rs, generated) and the few settings a
//! running program changes, over one request pipeline shared by every clone.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::{AuthError, ConfigError};
use crate::pipeline::Pipeline;
use crate::retry::RetryPolicy;

/// A client of the Genesys Cloud Usage API.
///
/// Build one with [`Client::builder`] or [`Client::from_env`]. Clones share one connection
/// pool, one token cache and one retry quota, so clone freely. Every operation returns
/// `Result<T, UsageError>`.
#[derive(Clone, Debug)]
pub struct Client {
    pipeline: Pipeline,
}

impl Client {
    pub(crate) fn from_pipeline(pipeline: Pipeline) -> Self {
        Self { pipeline }
    }

    pub(crate) fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The API base URL the client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.pipeline.shared().api_base
    }

    /// The clock the client waits on. Helpers that poll use it too, so one injected clock
    /// governs every wait.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.pipeline.shared().clock
    }

    /// The requests this client and its clones have sent so far, every retry and token
    /// request included: what they have spent of the org's API rate limit.
    pub fn requests_sent(&self) -> u64 {
        self.pipeline.requests_sent()
    }

    /// The same client (connections, tokens, retry quota) with another retry policy for
    /// its calls; token requests keep the policy the client was built with. A poller
    /// uses [`RetryPolicy::disabled`]: its schedule is its retry.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Result<Client, ConfigError> {
        policy.validate().map_err(ConfigError::InvalidRetryPolicy)?;
        Ok(Self {
            pipeline: self.pipeline.with_retry_policy(policy),
        })
    }

    /// Gets a token now, so bad credentials surface as a typed [`AuthError`] before any
    /// API call. A client without a token source succeeds.
    pub async fn authenticate(&self) -> Result<(), AuthError> {
        self.pipeline.authenticate().await
    }
}
