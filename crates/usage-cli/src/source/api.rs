//! The Usage API as a source: the client (the org's, or the built-in fake's under `--demo`),
//! the aggregates query jobs of a long interval (one per window of at most 90 days) with
//! their progress (the submissions noted on stderr, the polls on the spinner, the id to
//! resume when there is one job only), and each job's rows checked before they are handed
//! out.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use futures_util::StreamExt as _;
use usage_ext::models::{
    Granularity, Interval, LimitChangeRequestDetails, OrganizationPublicApiUsage,
    OrganizationPublicApiUsageQueryRequest,
};
use usage_ext::{
    DayWindow, OrganizationLimit, PollEvent, PollPolicy, RateLimitRecord, UsageQueries,
    WindowEvent, WindowJobs, split_days,
};
use usage_fake::{FakeConfig, FakeService};

use crate::config::{self, Login};
use crate::exit::Failure;
use crate::lake::events::Kept;
use crate::lake::state::Scope;
use crate::progress::{Pending, Progress};
use crate::source::counts;
use crate::source::family::{Family, Unavailable};
use crate::source::row::{Ask, Row};

/// The fake `--demo` runs against: the own reporting client's 4 series and 120 of the 240
/// of usage-fake's integrations (5 OAuth clients, 3 users, 16 endpoints), so each client
/// has its own mix of endpoints.
pub fn demo_config() -> FakeConfig {
    FakeConfig {
        rows: 124,
        ..FakeConfig::default()
    }
}

impl Api {
    /// The hourly near-limit records of `days`: one request (the rate-limit aggregates).
    pub async fn rate_limit_records(&self, days: DayWindow) -> Family<Vec<RateLimitRecord>> {
        let interval = day_instants(days);
        self.queries
            .rate_limit_records(&interval, usage_ext::Bucket::Hour)
            .await
            .map_err(|e| {
                unread(
                    &e,
                    "analytics:rateLimitAggregate:view",
                    "the limits each client came near and when",
                )
            })
    }

    /// The org's limits in `namespace` (three requests).
    pub async fn organization_limits(&self, namespace: &str) -> Family<Vec<OrganizationLimit>> {
        self.queries
            .organization_limits(namespace)
            .await
            .map_err(|e| unread(&e, "the limits' permission", "the org's value of the limit"))
    }

    /// The org's requests to raise a limit, made in `days`, of every namespace.
    pub async fn change_requests(&self, days: DayWindow) -> Family<Vec<LimitChangeRequestDetails>> {
        self.queries.change_requests(days).await.map_err(|e| {
            unread(
                &e,
                "limits:organization:view",
                "the org's requests to raise the limit",
            )
        })
    }

    /// The operational events created in `interval`, of `entity` when one is given, every
    /// page read (an error on a later page loses the whole answer rather than shortening
    /// it), each with its definition's name (one request more, best effort).
    pub async fn operational_events(
        &self,
        interval: &Interval,
        entity: Option<&str>,
    ) -> Family<Vec<Kept>> {
        let names = self.event_definition_names().await.unwrap_or_default();
        self.operational_events_named(interval, entity, &names)
            .await
    }

    /// As [`Api::operational_events`], named from `names` (read once by who polls).
    pub async fn operational_events_named(
        &self,
        interval: &Interval,
        entity: Option<&str>,
        names: &HashMap<String, String>,
    ) -> Family<Vec<Kept>> {
        let why = |e: &usage_ext::Error| unread(e, "usage:events:view", "the operational events");
        let stream = self
            .queries
            .operational_events(&instants(interval))
            .map_err(|e| why(&e))?;
        let mut stream = std::pin::pin!(stream);
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event.map_err(|e| why(&e))?;
            if entity.is_none_or(|entity| event.entity_id.as_deref() == Some(entity)) {
                events.push(event);
            }
        }
        Ok(events
            .into_iter()
            .map(|event| Kept {
                event_definition_name: event
                    .event_definition
                    .as_ref()
                    .and_then(|d| d.id.as_ref())
                    .and_then(|id| names.get(id))
                    .cloned(),
                event,
            })
            .collect())
    }

    /// The operational event definitions' names by id (one request): they make events
    /// readable; without them the ids still say it all.
    pub async fn event_definition_names(&self) -> Family<HashMap<String, String>> {
        match self.queries.client().get_usage_events_definitions().await {
            Ok(definitions) => Ok(definitions
                .entities
                .into_iter()
                .filter_map(|d| Some((d.id?, d.name?)))
                .collect()),
            Err(e) => Err(Unavailable::Unread(format!(
                "the event definitions' names are left out: {e}"
            ))),
        }
    }
}

/// What a failed request of the limits family means: a permission to ask for (403), or
/// the error.
fn unread(error: &usage_ext::Error, permission: &str, adds: &str) -> Unavailable {
    Unavailable::Unread(if forbidden(error) {
        format!("the login lacks {permission}, which would add {adds}")
    } else {
        format!("{adds} are left out: {error}")
    })
}

/// The instants of whole UTC days, as the limits family's intervals take them: from the
/// first day's start to the start of the day after the last.
pub fn day_instants(days: DayWindow) -> String {
    let end = days.last().succ_opt().unwrap_or(days.last());
    format!("{}T00:00:00Z/{end}T00:00:00Z", days.first())
}

/// `interval` as the limits family's bodies take it: two instants, UTC, to the millisecond.
fn instants(interval: &Interval) -> String {
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    format!("{}/{}", at(interval.start), at(interval.end))
}

/// The instants of whole UTC days as an interval: from the first day's start to the start
/// of the day after the last.
pub fn day_interval(days: DayWindow) -> Interval {
    let start = |day: chrono::NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    Interval {
        start: start(days.first()),
        end: start(days.last().succ_opt().unwrap_or(days.last())),
    }
}

/// Whether `error` is the service refusing the login a permission (403): a command that
/// can answer without what it asked for goes on, and says which permission would add it.
pub fn forbidden(error: &usage_ext::Error) -> bool {
    limits_status(error) == Some(403)
}

/// Whether a request of the limits family was answered 404: what it named is not there.
pub fn not_found(error: &usage_ext::Error) -> bool {
    limits_status(error) == Some(404)
}

fn limits_status(error: &usage_ext::Error) -> Option<u16> {
    match error {
        usage_ext::Error::Limits { source, .. } => source.status(),
        _ => None,
    }
}

/// Today in UTC, the service's calendar.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The org's Usage API (or the demo's fake), and where its waits are shown.
pub struct Api {
    queries: UsageQueries,
    progress: Arc<Progress>,
    pending: Pending,
    scope: Scope,
    /// Kept alive while the API is used: dropping it stops the fake.
    _fake: Option<FakeService>,
}

impl Api {
    /// The client the flags and environment name: the fake under `--demo`, else the org's.
    pub async fn connect(
        global: &Login,
        vars: &[(String, String)],
        mut stdin: impl BufRead,
        progress: Arc<Progress>,
        pending: Pending,
    ) -> Result<Self, Failure> {
        let mut fake = None;
        let client = if global.demo {
            let service = FakeService::start(demo_config()).await.map_err(|e| {
                Failure::Usage(format!("--demo: the built-in fake could not start: {e}"))
            })?;
            progress.note(&format!(
                "--demo: running against the built-in usage-fake at {} (offline); the numbers are generated, not your org's.",
                service.base_url()
            ));
            let client = usage_ext::Client::builder()
                .base_url(&service.base_url())
                .client_credentials(service.client_id(), service.client_secret())
                .build()
                .map_err(|e| Failure::Usage(e.to_string()))?;
            fake = Some(service);
            client
        } else {
            let secret = if global.client_secret_stdin {
                let mut line = String::new();
                stdin
                    .read_line(&mut line)
                    .map_err(|e| Failure::Usage(format!("--client-secret-stdin: {e}")))?;
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if line.is_empty() {
                    return Err(Failure::Usage(
                        "--client-secret-stdin: stdin had no secret on its first line".into(),
                    ));
                }
                Some(line)
            } else {
                None
            };
            config::org_client(global, vars, secret).map_err(|e| Failure::Usage(e.0))?
        };
        let scope = if global.demo {
            Scope::Demo
        } else {
            Scope::Org(client.base_url().to_string())
        };
        let policy = PollPolicy::default().with_max_wait(global.max_wait);
        let queries = UsageQueries::new(client)
            .with_policy(policy)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(Self {
            queries,
            progress,
            pending,
            scope,
            _fake: fake,
        })
    }

    pub fn queries(&self) -> &UsageQueries {
        &self.queries
    }

    /// Whose usage this is.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Where its numbers come from, as a page states it.
    pub fn describe(&self) -> String {
        self.scope.whose()
    }

    /// Every request sent so far (the rate limit this run spent).
    pub fn requests_sent(&self) -> u64 {
        self.queries.client().requests_sent()
    }

    /// Notes a submitted query or job and remembers how to resume it.
    pub fn submitted(&self, what: &str, id: &str, client: Option<&str>) {
        let resume = resume_command(&self.scope, id, client);
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
        self.progress.note(&format!("Submitted {what} {id}"));
        self.progress.status("submitted");
    }

    /// The wait is over: nothing left to resume, and the spinner goes.
    pub fn done(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.progress.clear();
    }

    /// Notes job `job_id` of a run of `total` jobs.
    pub fn job_submitted(&self, window: DayWindow, job_id: &str, total: usize) {
        note_job(
            &self.progress,
            &self.pending,
            &self.scope,
            window,
            job_id,
            total,
        );
    }

    /// Shows a poll on the spinner (and the trace with `-v`).
    pub fn polled(&self, event: &PollEvent) {
        self.progress.poll(event);
    }

    /// The windows of at most 90 days that `days` takes, refused (exit 2) when they reach
    /// more than a year back or past the last complete day.
    pub fn windows(days: DayWindow) -> Result<Vec<DayWindow>, Failure> {
        split_days(days, today()).map_err(|e| Failure::Usage(e.to_string()))
    }

    /// The job that asks for `ask`'s columns over `window`.
    pub fn request(ask: &Ask, window: DayWindow) -> OrganizationPublicApiUsageQueryRequest {
        let mut request = job_request(window.interval());
        for column in &ask.columns {
            if let Some(group_by) = column.group_by()
                && !request.group_by.contains(&group_by)
            {
                request.group_by.push(group_by);
            }
            if let Some(metric) = column.metric() {
                request.metrics.push(metric);
            }
        }
        request.granularity = ask.daily.then_some(Granularity::Day);
        request
    }

    /// The rows of each of `asks`, to `each` with the ask's place: one job per ask and
    /// window, `concurrency` at a time, handed back in order.
    pub async fn rows(
        &self,
        asks: &[Ask],
        concurrency: usize,
        mut each: impl FnMut(usize, &Row<'_>) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let mut jobs = Vec::new();
        let mut owners = Vec::new();
        for (index, ask) in asks.iter().enumerate() {
            for window in Self::windows(ask.days)? {
                jobs.push((window, Self::request(ask, window)));
                owners.push((index, ask.daily));
            }
        }
        let started = self.start_jobs(&self.queries, jobs, concurrency);
        self.each_row(started, |job, row| {
            let (index, daily) = owners[job];
            if daily && row.date.is_none_or(|d| !asks[index].days.contains(d)) {
                return Err(Failure::Malformed(format!(
                    "a row of a daily job has no date inside {}: {row:?}",
                    asks[index].days
                )));
            }
            each(index, &Row::of_model(&row))
        })
        .await?;
        Ok(())
    }

    /// Starts jobs that differ in more than their window, `concurrency` at a time, their
    /// submissions and polls shown.
    pub fn start_jobs(
        &self,
        queries: &UsageQueries,
        jobs: Vec<(DayWindow, OrganizationPublicApiUsageQueryRequest)>,
        concurrency: usize,
    ) -> WindowJobs {
        let total = jobs.len();
        let (progress, pending, scope) = (
            self.progress.clone(),
            self.pending.clone(),
            self.scope.clone(),
        );
        let on_event = Arc::new(move |event: WindowEvent<'_>| match event {
            WindowEvent::Submitted { window, job } => {
                note_job(&progress, &pending, &scope, window, &job.job_id, total)
            }
            WindowEvent::Polled { event, .. } => progress.poll(event),
            _ => {}
        });
        queries.aggregate_jobs(jobs, concurrency, on_event)
    }

    /// The rows of each job in order, checked, to `each` with the job's place in the order
    /// they were started, and the paging shown on the spinner; returns the rows seen.
    pub async fn each_row(
        &self,
        mut jobs: WindowJobs,
        mut each: impl FnMut(usize, OrganizationPublicApiUsage) -> Result<(), Failure>,
    ) -> Result<u64, Failure> {
        let mut rows = 0u64;
        let mut index = 0;
        while let Some((_window, pages)) = jobs.next().await {
            let mut pages = pages?;
            while let Some(page) = pages.next_page().await {
                for row in page? {
                    counts::check_job_row(&row)?;
                    each(index, row)?;
                    rows += 1;
                }
                self.progress.status(&format!("paging · {rows} rows"));
            }
            index += 1;
        }
        self.done();
        Ok(rows)
    }
}

/// A job submitted: with its window when it is one of several, else with the id to resume.
fn note_job(
    progress: &Progress,
    pending: &Pending,
    scope: &Scope,
    window: DayWindow,
    job_id: &str,
    total: usize,
) {
    if total == 1 {
        let resume = resume_command(scope, job_id, None);
        *pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
        progress.note(&format!("Submitted aggregates query job {job_id}"));
    } else {
        progress.note(&format!(
            "Submitted aggregates query job {job_id} for {window}"
        ));
    }
}

/// An organization job of `interval` that asks for nothing yet: every field named, so that
/// a field the spec adds is a compile error here, and a misspelled key cannot be dropped on
/// the way (the requests used to go through JSON).
pub fn job_request(interval: String) -> OrganizationPublicApiUsageQueryRequest {
    OrganizationPublicApiUsageQueryRequest {
        interval,
        granularity: None,
        group_by: Vec::new(),
        metrics: Vec::new(),
        http_methods: Vec::new(),
        oauth_client_ids: Vec::new(),
        platforms: Vec::new(),
        sort_by: Vec::new(),
        template_uris: Vec::new(),
        user_ids: Vec::new(),
    }
}

/// What the user runs to wait again for query or job `id` (of OAuth client `client`).
pub fn resume_command(scope: &Scope, id: &str, client: Option<&str>) -> String {
    match client {
        // The demo's fake stops with this process: nothing outlives it to resume.
        _ if *scope == Scope::Demo => {
            format!("{id} (--demo: the fake stopped with the process; run again)")
        }
        Some(c) => format!("genesys-usage resume {id} --client {c}"),
        None => format!("genesys-usage resume {id}"),
    }
}
