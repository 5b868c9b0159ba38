//! Submitting the three kinds of usage query, waiting for them, and the one-call forms.

use serde::{Deserialize, Serialize};
use usage_client::UsageError;
use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ApiUsageQueryResult, QueryStatus,
    UsageExecutionResult,
};

use crate::error::Error;
use crate::poll::{self, PollEvent, PollStatus, Verdict};
use crate::queries::UsageQueries;
use crate::validate;

/// A submitted usage query: its `executionId`, and the OAuth client id for client
/// queries. Serializable, so it can be saved and the wait resumed after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The id the service returned on submission.
    pub execution_id: String,
    /// Set for OAuth client queries and summaries, whose results live under the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Execution {
    /// An organization query's execution (`postUsageQuery`).
    pub fn organization(execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            client_id: None,
        }
    }

    /// An OAuth client query's or summary's execution.
    pub fn client(client_id: impl Into<String>, execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            client_id: Some(client_id.into()),
        }
    }

    /// Polls until the query is `Complete` (its result) or `Failed`, or the policy's
    /// `max_wait` passes. Dropping the future stops polling; nothing is left running.
    pub async fn wait(&self, queries: &UsageQueries) -> Result<ApiUsageQueryResult, Error> {
        self.wait_with(queries, |_| {}).await
    }

    /// [`wait`](Self::wait), calling `on_poll` after every poll, the last one included.
    ///
    /// `max_wait` bounds the whole wait: each poll runs under
    /// [`usage_client::with_deadline`], so the client's own retries and per-attempt
    /// timeouts end at the deadline too.
    pub async fn wait_with(
        &self,
        queries: &UsageQueries,
        on_poll: impl FnMut(&PollEvent),
    ) -> Result<ApiUsageQueryResult, Error> {
        validate::id("executionId", &self.execution_id)?;
        if let Some(client_id) = &self.client_id {
            validate::id("clientId", client_id)?;
        }
        let id = &self.execution_id;
        let judge = judge_query(id);
        let fetch = || self.fetch(queries);
        poll::until_done(
            queries.client().clock(),
            queries.policy(),
            id,
            on_poll,
            fetch,
            judge,
        )
        .await
    }

    /// One poll, sent once (the poll schedule is its retry). The client decodes the rows of
    /// a large answer as they arrive, so the body is never held whole.
    async fn fetch(&self, queries: &UsageQueries) -> Result<ApiUsageQueryResult, UsageError> {
        let client = queries.poll_client();
        match &self.client_id {
            None => {
                client
                    .get_usage_query_execution_id_results(&self.execution_id)
                    .await
            }
            Some(client_id) => {
                client
                    .get_oauth_client_usage_query_result(client_id, &self.execution_id)
                    .await
            }
        }
    }
}

/// What a usage query's answer means for the wait (`Complete`, `Failed`, `Running`).
pub(crate) fn judge_query(
    id: &str,
) -> impl Fn(ApiUsageQueryResult) -> Verdict<ApiUsageQueryResult> {
    move |result: ApiUsageQueryResult| match &result.query_status {
        Some(QueryStatus::Complete) => Verdict::Done(result),
        Some(QueryStatus::Failed) => Verdict::Fail(
            PollStatus::Failed,
            Error::FailureState {
                execution_id: id.to_string(),
                result: Box::new(result),
            },
        ),
        Some(QueryStatus::Running) => Verdict::Continue(PollStatus::Running),
        Some(other) => Verdict::Continue(PollStatus::Unlisted(other.as_str().to_string())),
        None => Verdict::Continue(PollStatus::Missing),
    }
}

impl UsageQueries {
    /// Submits an organization query (`postUsageQuery`).
    pub async fn submit_organization(
        &self,
        query: &ApiUsageOrganizationQuery,
    ) -> Result<Execution, Error> {
        validate::organization_query(query)?;
        let answer = self.client().post_usage_query(query).await;
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
            .client()
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
            .client()
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
