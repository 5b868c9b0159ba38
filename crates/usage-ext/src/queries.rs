//! Submitting the three kinds of usage query, and the one-call forms.

use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ApiUsageQueryResult, UsageExecutionResult,
};
use usage_client::{Client, RetryPolicy, UsageError};

use crate::error::Error;
use crate::execution::Execution;
use crate::policy::{InvalidPolicy, PollPolicy};
use crate::validate;

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
            page_size: crate::jobs::MAX_PAGE_SIZE,
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
        if !(1..=crate::jobs::MAX_PAGE_SIZE).contains(&rows) {
            return Err(InvalidPolicy::new(format!(
                "page size must be 1 to {}, got {rows}",
                crate::jobs::MAX_PAGE_SIZE
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

    /// Submits an organization query (`postUsageQuery`).
    pub async fn submit_organization(
        &self,
        query: &ApiUsageOrganizationQuery,
    ) -> Result<Execution, Error> {
        validate::organization_query(query)?;
        let answer = self.client.post_usage_query(query).await;
        Ok(Execution::organization(execution_id(answer)?))
    }

    /// Submits an OAuth client query (`postOauthClientUsageQuery`).
    pub async fn submit_client(
        &self,
        client_id: &str,
        query: &ApiUsageClientQuery,
    ) -> Result<Execution, Error> {
        validate::id("clientId", client_id)?;
        validate::client_query(query)?;
        let answer = self
            .client
            .post_oauth_client_usage_query(client_id, query)
            .await;
        Ok(Execution::client(client_id, execution_id(answer)?))
    }

    /// Submits an OAuth client summary of the last `days` days (`getOauthClientUsageSummary`;
    /// the service's default is 7).
    pub async fn submit_client_summary(
        &self,
        client_id: &str,
        days: Option<u32>,
    ) -> Result<Execution, Error> {
        validate::id("clientId", client_id)?;
        if let Some(days) = days {
            validate::days(days)?;
        }
        let days = days.map(|d| d.to_string());
        let answer = self
            .client
            .get_oauth_client_usage_summary(client_id, days.as_deref())
            .await;
        Ok(Execution::client(client_id, execution_id(answer)?))
    }

    /// Submits an organization query and waits for its result.
    pub async fn organization_usage(
        &self,
        query: &ApiUsageOrganizationQuery,
    ) -> Result<ApiUsageQueryResult, Error> {
        self.submit_organization(query).await?.wait(self).await
    }

    /// Submits an OAuth client query and waits for its result.
    pub async fn client_usage(
        &self,
        client_id: &str,
        query: &ApiUsageClientQuery,
    ) -> Result<ApiUsageQueryResult, Error> {
        self.submit_client(client_id, query).await?.wait(self).await
    }

    /// Submits an OAuth client summary and waits for its result.
    pub async fn client_summary(
        &self,
        client_id: &str,
        days: Option<u32>,
    ) -> Result<ApiUsageQueryResult, Error> {
        self.submit_client_summary(client_id, days)
            .await?
            .wait(self)
            .await
    }
}

pub(crate) fn execution_id(
    answer: Result<UsageExecutionResult, UsageError>,
) -> Result<String, Error> {
    let answer = answer.map_err(Error::Submit)?;
    let id = answer
        .execution_id
        .filter(|id| !id.is_empty())
        .ok_or(Error::MissingExecutionId)?;
    // The query was submitted: an id that cannot be polled is the service's fault, not
    // the caller's input.
    if validate::id("executionId", &id).is_err() {
        return Err(Error::UnusableExecutionId { execution_id: id });
    }
    Ok(id)
}
