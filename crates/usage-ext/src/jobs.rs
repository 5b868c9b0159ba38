//! Aggregates query jobs, the successor API: submit a job, wait while it is `Queued` or
//! `Running`, then page through its rows by cursor.
//!
//! The wait is the same loop as a usage query's (policy, deadline, progress events,
//! drop-cancels). Paging holds one page at a time, so a 100,000-row job costs the memory
//! of a page, not of the whole result. A page that fails transiently is fetched again from
//! the same cursor, so no row is lost or repeated; a [`Pages`] can be rebuilt from the job
//! id and the cursor of the next page ([`Job::pages_from`]) to resume after a restart.

use std::collections::HashSet;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use usage_client::models::{
    ClientPublicApiUsage, ClientPublicApiUsageQueryRequest, ErrorBody, JobQueryStatus,
    OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest,
};
use usage_client::{BoxFuture, Client, UsageError};

use crate::error::Error;
use crate::poll::{self, PollEvent, PollStatus, Verdict};
use crate::queries::{MAX_PAGE_SIZE, UsageQueries};
use crate::validate::{self, ValidationError};

/// A submitted aggregates query job: its `jobId`, and the OAuth client id for a client
/// job. `R` is the row type: [`OrganizationPublicApiUsage`] or [`ClientPublicApiUsage`].
/// Serializable, so the wait (or the paging) can resume after a restart.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job<R> {
    /// The id the service returned on submission.
    pub job_id: String,
    /// Set for an OAuth client's job, whose results live under the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip)]
    row: PhantomData<fn() -> R>,
}

impl<R> Clone for Job<R> {
    fn clone(&self) -> Self {
        Self {
            job_id: self.job_id.clone(),
            client_id: self.client_id.clone(),
            row: PhantomData,
        }
    }
}

impl<R> PartialEq for Job<R> {
    fn eq(&self, other: &Self) -> bool {
        self.job_id == other.job_id && self.client_id == other.client_id
    }
}

impl<R> Eq for Job<R> {}

impl Job<OrganizationPublicApiUsage> {
    /// An organization job (`postUsageAggregatesQueryJobs`), from its id.
    pub fn organization(job_id: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            client_id: None,
            row: PhantomData,
        }
    }
}

impl Job<ClientPublicApiUsage> {
    /// An OAuth client's job (`postUsageClientClientIdAggregatesQueryJobs`), from its ids.
    pub fn client(client_id: impl Into<String>, job_id: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            client_id: Some(client_id.into()),
            row: PhantomData,
        }
    }
}

/// One page of a job as the service answered it.
#[doc(hidden)]
#[derive(Debug)]
pub struct RawPage<R> {
    status: JobQueryStatus,
    rows: Vec<R>,
    next_uri: Option<String>,
    error_body: Option<ErrorBody>,
}

impl<R> RawPage<R> {
    /// `Failed` or `Cancelled`: what the poll found and the caller's error, with the
    /// service's `errorBody`. The wait and the paging both end on it.
    fn ended_badly(&mut self, job_id: &str) -> Option<(PollStatus, Error)> {
        let job_id = job_id.to_string();
        let error_body = self.error_body.take().map(Box::new);
        match self.status {
            JobQueryStatus::Failed => {
                Some((PollStatus::Failed, Error::JobFailed { job_id, error_body }))
            }
            JobQueryStatus::Cancelled => Some((
                PollStatus::Cancelled,
                Error::JobCancelled { job_id, error_body },
            )),
            _ => None,
        }
    }
}

mod sealed {
    use super::*;

    /// How a row type's job is fetched; implemented for the two row types only.
    pub trait Fetch: Sized + Send + 'static {
        fn fetch<'a>(
            client: &'a Client,
            job: &'a Job<Self>,
            after: Option<&'a str>,
            page_size: u32,
        ) -> BoxFuture<'a, Result<RawPage<Self>, UsageError>>;
    }
}

/// A row of an aggregates query job: [`OrganizationPublicApiUsage`] or
/// [`ClientPublicApiUsage`].
pub trait JobRow: sealed::Fetch {}

impl JobRow for OrganizationPublicApiUsage {}
impl JobRow for ClientPublicApiUsage {}

fn page_size(size: u32) -> Option<i32> {
    Some(size.min(MAX_PAGE_SIZE) as i32)
}

impl sealed::Fetch for OrganizationPublicApiUsage {
    fn fetch<'a>(
        client: &'a Client,
        job: &'a Job<Self>,
        after: Option<&'a str>,
        size: u32,
    ) -> BoxFuture<'a, Result<RawPage<Self>, UsageError>> {
        Box::pin(async move {
            let answer = client
                .get_usage_aggregates_query_job(&job.job_id, after, page_size(size))
                .await?;
            Ok(RawPage {
                status: answer.query_status,
                rows: answer.entities,
                next_uri: answer.next_uri,
                error_body: answer.error_body,
            })
        })
    }
}

impl sealed::Fetch for ClientPublicApiUsage {
    fn fetch<'a>(
        client: &'a Client,
        job: &'a Job<Self>,
        after: Option<&'a str>,
        size: u32,
    ) -> BoxFuture<'a, Result<RawPage<Self>, UsageError>> {
        Box::pin(async move {
            let client_id = job.client_id.as_deref().unwrap_or_default();
            let answer = client
                .get_usage_client_client_id_aggregates_query_job(
                    client_id,
                    &job.job_id,
                    after,
                    page_size(size),
                )
                .await?;
            Ok(RawPage {
                status: answer.query_status,
                rows: answer.entities,
                next_uri: answer.next_uri,
                error_body: answer.error_body,
            })
        })
    }
}

impl<R: JobRow> Job<R> {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::id("jobId", &self.job_id)?;
        if let Some(client_id) = &self.client_id {
            validate::id("clientId", client_id)?;
        }
        Ok(())
    }

    /// Polls until the job has `Succeeded` and returns its rows as [`Pages`] (the first page
    /// already fetched); `Failed` and `Cancelled` are [`Error::JobFailed`] and
    /// [`Error::JobCancelled`]. The policy's `max_wait` bounds the wait, as for a query.
    pub async fn wait(&self, queries: &UsageQueries) -> Result<Pages<R>, Error> {
        self.wait_with(queries, |_| {}).await
    }

    /// [`wait`](Self::wait), calling `on_poll` after every poll.
    pub async fn wait_with(
        &self,
        queries: &UsageQueries,
        on_poll: impl FnMut(&PollEvent),
    ) -> Result<Pages<R>, Error> {
        self.validate()?;
        let size = queries.page_size();
        let job_id = &self.job_id;
        let judge = |mut page: RawPage<R>| {
            if let Some((status, error)) = page.ended_badly(job_id) {
                return Verdict::Fail(status, error);
            }
            match &page.status {
                JobQueryStatus::Succeeded => Verdict::Done(page),
                JobQueryStatus::Queued => Verdict::Continue(PollStatus::Queued),
                JobQueryStatus::Running => Verdict::Continue(PollStatus::Running),
                other => Verdict::Continue(PollStatus::Unlisted(other.as_str().to_string())),
            }
        };
        let fetch = || R::fetch(queries.poll_client(), self, None, size);
        let first = poll::until_done(
            queries.client().clock(),
            queries.policy(),
            job_id,
            on_poll,
            fetch,
            judge,
        )
        .await?;
        let next = match first.next_uri.as_deref() {
            None => Next::End,
            Some(uri) => Next::After(crate::cursor::after(uri).ok_or_else(|| {
                let reason = format!("nextUri {uri:?} holds no `after` cursor");
                Error::paging_stopped(job_id, None, reason, uri)
            })?),
        };
        Ok(Pages {
            queries: queries.clone(),
            job: self.clone(),
            buffered: Some(first.rows),
            seen: HashSet::new(),
            next,
        })
    }

    /// The rows of a job that has `Succeeded`, from the page after `cursor` (a cursor a
    /// [`Pages`] reported), or from the first page when `cursor` is `None`: to resume
    /// paging after a restart without waiting again.
    pub fn pages_from(&self, queries: &UsageQueries, cursor: Option<String>) -> Pages<R> {
        Pages {
            queries: queries.clone(),
            job: self.clone(),
            buffered: None,
            seen: HashSet::new(),
            next: cursor.map_or(Next::First, Next::After),
        }
    }
}

/// Where the next page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// The job's first page (a resumed [`Pages`] without a cursor).
    First,
    /// The page after this cursor.
    After(String),
    /// No page is left.
    End,
}

/// The rows of a job that has `Succeeded`, a page at a time. Memory holds one page.
#[derive(Debug)]
pub struct Pages<R> {
    queries: UsageQueries,
    job: Job<R>,
    buffered: Option<Vec<R>>,
    /// Every cursor fetched: a service that hands one back again (A, B, A) would otherwise
    /// page forever, and a caller that keeps rows would keep them forever. One string a page.
    seen: HashSet<String>,
    next: Next,
}

impl<R: JobRow> Pages<R> {
    /// The job these rows belong to.
    pub fn job(&self) -> &Job<R> {
        &self.job
    }

    /// The cursor of the next page to fetch, to resume with [`Job::pages_from`]; `None`
    /// when no page is left or the next one is the first.
    pub fn cursor(&self) -> Option<&str> {
        match &self.next {
            Next::After(cursor) if self.buffered.is_none() => Some(cursor),
            _ => None,
        }
    }

    /// The next page, or `None` once the last was returned. A page that fails is retried by
    /// the client (its retry policy and quota, `Retry-After` honoured), and by nothing on
    /// top of it; then the error is returned and the next call tries the same page again,
    /// so no row is lost or repeated.
    pub async fn next_page(&mut self) -> Option<Result<Vec<R>, Error>> {
        if let Some(rows) = self.buffered.take() {
            return Some(Ok(rows));
        }
        let after = match &self.next {
            Next::End => return None,
            Next::First => None,
            Next::After(cursor) => Some(cursor.clone()),
        };
        let size = self.queries.page_size();
        let fetched = R::fetch(self.queries.client(), &self.job, after.as_deref(), size).await;
        let mut page = match fetched {
            Ok(page) => page,
            Err(source) => return Some(Err(self.page_error(after, source))),
        };
        if let Some(cursor) = &after {
            self.seen.insert(cursor.clone());
        }
        if let Some((_, error)) = page.ended_badly(&self.job.job_id) {
            self.next = Next::End;
            return Some(Err(error));
        }
        match page.status {
            JobQueryStatus::Succeeded => {}
            other => {
                return Some(Err(Error::JobNotFinished {
                    job_id: self.job.job_id.clone(),
                    query_status: other.as_str().to_string(),
                }));
            }
        }
        self.next = match page.next_uri.as_deref() {
            None => Next::End,
            Some(uri) => match crate::cursor::after(uri) {
                Some(cursor) if !self.seen.contains(&cursor) && Some(&cursor) != after.as_ref() => {
                    Next::After(cursor)
                }
                // A cursor already fetched would page the same rows again, forever: the
                // paging ends here (a retry would only come round again).
                _ => {
                    self.next = Next::End;
                    let reason = format!(
                        "nextUri {uri:?} holds no new `after` cursor (it was fetched before); paging stopped"
                    );
                    return Some(Err(Error::paging_stopped(
                        &self.job.job_id,
                        after,
                        reason,
                        uri,
                    )));
                }
            },
        };
        Some(Ok(page.rows))
    }

    fn page_error(&self, cursor: Option<String>, source: UsageError) -> Error {
        let job_id = self.job.job_id.clone();
        match (cursor, source.status()) {
            (Some(cursor), Some(400 | 404)) => Error::InvalidCursor {
                job_id,
                cursor,
                source: Box::new(source),
            },
            (cursor, _) => Error::Page {
                job_id,
                cursor,
                source: Box::new(source),
            },
        }
    }

    /// The pages as a stream.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Vec<R>, Error>> {
        futures_util::stream::unfold(self, |mut pages| async move {
            let page = pages.next_page().await?;
            Some((page, pages))
        })
    }

    /// The rows, one at a time, as a stream (fetching a page when the last is used up).
    pub fn rows(self) -> impl futures_util::Stream<Item = Result<R, Error>> {
        use futures_util::StreamExt as _;
        self.into_stream().flat_map(|page| {
            let items: Vec<Result<R, Error>> = match page {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        })
    }

    /// Every row, in one `Vec` (memory grows with the job: prefer the streams for large
    /// jobs).
    pub async fn collect(mut self) -> Result<Vec<R>, Error> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}

impl UsageQueries {
    /// Submits an organization aggregates query job (`postUsageAggregatesQueryJobs`).
    pub async fn submit_aggregate(
        &self,
        query: &OrganizationPublicApiUsageQueryRequest,
    ) -> Result<Job<OrganizationPublicApiUsage>, Error> {
        validate::job_interval(&query.interval, now_unix())?;
        let answer = self
            .client()
            .post_usage_aggregates_query_jobs(query)
            .await
            .map_err(Error::Submit)?;
        Ok(Job::organization(job_id(answer.id)?))
    }

    /// Submits an OAuth client's aggregates query job
    /// (`postUsageClientClientIdAggregatesQueryJobs`).
    pub async fn submit_client_aggregate(
        &self,
        client_id: &str,
        query: &ClientPublicApiUsageQueryRequest,
    ) -> Result<Job<ClientPublicApiUsage>, Error> {
        validate::id("clientId", client_id)?;
        validate::job_interval(&query.interval, now_unix())?;
        let answer = self
            .client()
            .post_usage_client_client_id_aggregates_query_jobs(client_id, query)
            .await
            .map_err(Error::Submit)?;
        Ok(Job::client(client_id, job_id(answer.id)?))
    }

    /// Submits an organization job, waits for it, and returns its rows as [`Pages`].
    pub async fn aggregate_usage(
        &self,
        query: &OrganizationPublicApiUsageQueryRequest,
    ) -> Result<Pages<OrganizationPublicApiUsage>, Error> {
        self.submit_aggregate(query).await?.wait(self).await
    }

    /// Submits an OAuth client's job, waits for it, and returns its rows as [`Pages`].
    pub async fn client_aggregate_usage(
        &self,
        client_id: &str,
        query: &ClientPublicApiUsageQueryRequest,
    ) -> Result<Pages<ClientPublicApiUsage>, Error> {
        self.submit_client_aggregate(client_id, query)
            .await?
            .wait(self)
            .await
    }
}

/// Seconds since the epoch, by the system clock (the service judges "a year ago" by its own).
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A job id the service returned: one that can be polled, or the service's fault.
fn job_id(id: String) -> Result<String, Error> {
    if id.is_empty() {
        return Err(Error::MissingExecutionId);
    }
    if validate::id("jobId", &id).is_err() {
        return Err(Error::UnusableExecutionId { execution_id: id });
    }
    Ok(id)
}
