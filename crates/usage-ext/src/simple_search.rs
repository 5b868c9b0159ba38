//! Simple search (`postUsageSimplesearch`): submitted and polled like an organization
//! query; its rows (at most 20,000, the service's cap) may come in pages, followed here by
//! the `after` cursor until the last.

use serde::{Deserialize, Serialize};
use usage_client::models::{ApiUsageQueryResult, ApiUsageSimpleSearch, Interval};
use usage_client::{Client, UsageError};

use crate::error::Error;
use crate::execution::{execution_id, judge_query};
use crate::poll::{self, PollEvent};
use crate::queries::UsageQueries;
use crate::validate::{self, ValidationError};

/// The most pages a simple search is followed for: the service caps a search at 20,000
/// rows, so this is room enough, and a server that never stops paging is stopped.
const MAX_PAGES: usize = 1_000;

/// A submitted simple search: its `executionId`. Serializable, to resume the wait.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleSearch {
    /// The id the service returned on submission.
    pub execution_id: String,
}

impl SimpleSearch {
    /// A simple search's execution, from its id.
    pub fn new(execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
        }
    }

    /// Polls until the search is `Complete` and returns every row (following the `after`
    /// cursor of its pages), or `FailureState` when it `Failed`. The poll policy's
    /// `max_wait` bounds the wait.
    pub async fn wait(&self, queries: &UsageQueries) -> Result<ApiUsageQueryResult, Error> {
        self.wait_with(queries, |_| {}).await
    }

    /// [`wait`](Self::wait), calling `on_poll` after every poll.
    pub async fn wait_with(
        &self,
        queries: &UsageQueries,
        on_poll: impl FnMut(&PollEvent),
    ) -> Result<ApiUsageQueryResult, Error> {
        validate::id("executionId", &self.execution_id)?;
        let id = &self.execution_id;
        let fetch = || self.fetch(queries, queries.poll_client(), None);
        let (clock, policy) = (queries.client().clock(), queries.policy());
        let mut result =
            poll::until_done(clock, policy, id, on_poll, fetch, judge_query(id)).await?;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let Some(after) = result.cursors.as_ref().and_then(|c| c.after.clone()) else {
                return Ok(result);
            };
            if !seen.insert(after.clone()) {
                return Err(self.page_error(Some(after), "the same cursor came back twice"));
            }
            let page = self
                .fetch(queries, queries.client(), Some(&after))
                .await
                .map_err(|source| Error::Page {
                    job_id: id.clone(),
                    cursor: Some(after.clone()),
                    source: Box::new(source),
                })?;
            result.results.extend(page.results);
            result.cursors = page.cursors;
        }
        Err(self.page_error(None, "more pages than a simple search can have"))
    }

    fn page_error(&self, cursor: Option<String>, why: &str) -> Error {
        let reason = format!("{why}; paging stopped");
        Error::paging_stopped(&self.execution_id, cursor, reason, "")
    }

    async fn fetch(
        &self,
        queries: &UsageQueries,
        client: &Client,
        after: Option<&str>,
    ) -> Result<ApiUsageQueryResult, UsageError> {
        let page_size = i32::try_from(queries.page_size()).ok();
        client
            .get_usage_simplesearch_execution_id_results(&self.execution_id, after, page_size)
            .await
    }
}

impl UsageQueries {
    /// Submits a simple search (`postUsageSimplesearch`).
    pub async fn submit_simple_search(
        &self,
        query: &ApiUsageSimpleSearch,
    ) -> Result<SimpleSearch, Error> {
        Interval::parse(&query.interval).map_err(ValidationError::from)?;
        let answer = self.client().post_usage_simplesearch(query).await;
        Ok(SimpleSearch::new(execution_id(answer)?))
    }

    /// Submits a simple search and waits for all its rows.
    pub async fn simple_search(
        &self,
        query: &ApiUsageSimpleSearch,
    ) -> Result<ApiUsageQueryResult, Error> {
        self.submit_simple_search(query).await?.wait(self).await
    }
}
