//! What every submit and wait shares: the client, the poll policy and the page size.

use usage_client::{Client, RetryPolicy};

use crate::policy::{InvalidPolicy, PollPolicy};

/// The largest page the service gives (and the default here: fewer round trips).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Submit-then-poll over a [`Client`]. Cheap to clone; clones share the client.
#[derive(Debug, Clone)]
pub struct UsageQueries {
    client: Client,
    // The same client without retries, for polls: the poll schedule is their retry.
    poll_client: Client,
    policy: PollPolicy,
    page_size: u32,
}

impl UsageQueries {
    /// Uses `client` with the default [`PollPolicy`].
    pub fn new(client: Client) -> Self {
        let poll_client = client
            .with_retry_policy(RetryPolicy::disabled())
            .unwrap_or_else(|_| client.clone());
        Self {
            client,
            poll_client,
            policy: PollPolicy::default(),
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// Replaces the poll policy, once [`PollPolicy::validate`] accepts it.
    pub fn with_policy(mut self, policy: PollPolicy) -> Result<Self, InvalidPolicy> {
        policy.validate()?;
        self.policy = policy;
        Ok(self)
    }

    /// Sets the rows per page asked of aggregates query jobs: 1 to 1000 (the default, and
    /// the service's maximum: fewer round trips).
    pub fn with_page_size(mut self, rows: u32) -> Result<Self, InvalidPolicy> {
        if !(1..=MAX_PAGE_SIZE).contains(&rows) {
            return Err(InvalidPolicy::new(format!(
                "page size must be 1 to {}, got {rows}",
                MAX_PAGE_SIZE
            )));
        }
        self.page_size = rows;
        Ok(self)
    }

    /// The rows per page asked of aggregates query jobs.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client polls go through: the same one, sending each poll once.
    pub(crate) fn poll_client(&self) -> &Client {
        &self.poll_client
    }

    /// The poll policy.
    pub fn policy(&self) -> &PollPolicy {
        &self.policy
    }
}
