//! Where rows come from: the Usage API (aggregates query jobs, one per 90 days, with their
//! progress) or a dataset `sync` kept. A command that reads usage is written once against
//! [`Source`], which answers "the daily rows of these days, these columns" either way; a
//! run from a dataset has no client at all, so it cannot send a request. The counts a row
//! carries are checked here, once, before anything sums them.

pub mod api;
pub mod counts;
pub mod dataset;
pub mod family;
pub mod row;

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use usage_ext::models::{Interval, LimitChangeRequestDetails};

use crate::lake::events::Kept;
use usage_ext::{DayWindow, OrganizationLimit, RateLimitRecord, earliest_first_day};

use crate::config::Login;
use crate::exit::Failure;
use crate::progress::{Pending, Progress};
use crate::source::api::{Api, today};
use crate::source::dataset::Dataset;
pub use crate::source::family::{Family, Unavailable};
use crate::source::row::{Ask, Row};

/// The API, or a dataset read instead of it (`--from`).
pub enum Source {
    Api(Api),
    Dataset(Dataset),
}

impl Source {
    /// The dataset `from` names, else the API the flags and the environment name.
    pub async fn open(
        global: &Login,
        vars: &[(String, String)],
        stdin: impl BufRead,
        from: Option<&str>,
        progress: Arc<Progress>,
        pending: Pending,
    ) -> Result<Self, Failure> {
        let Some(from) = from else {
            return Ok(Source::Api(
                Api::connect(global, vars, stdin, progress, pending).await?,
            ));
        };
        if global.demo {
            return Err(Failure::Usage(
                "--from reads a synced dataset; --demo starts the fake API it would not ask: \
                 give one of them"
                    .into(),
            ));
        }
        // The dataset is opened and its state checked before anything else is read.
        let dataset = Dataset::open(from, vars, progress.clone()).await?;
        progress.detail(&format!(
            "--from {from}: reading the synced dataset; no request goes to the Usage API"
        ));
        Ok(Source::Dataset(dataset))
    }

    /// The rows of each of `asks`, to `each` with the ask's place in `asks`.
    pub async fn rows(
        &self,
        asks: &[Ask],
        concurrency: usize,
        each: impl FnMut(usize, &Row<'_>) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        match self {
            Source::Api(api) => api.rows(asks, concurrency, each).await,
            Source::Dataset(dataset) => dataset.rows(asks, each).await,
        }
    }

    /// The hourly near-limit records of `days` (the rate-limit aggregates), or why there
    /// are none to show: a login without the permission, a dataset that keeps none, a
    /// failed request.
    pub async fn rate_limit_records(&self, days: DayWindow) -> Family<Vec<RateLimitRecord>> {
        match self {
            Source::Api(api) => api.rate_limit_records(days).await,
            Source::Dataset(dataset) => {
                dataset.rate_limit_records(days).await.unwrap_or_else(|e| {
                    Err(Unavailable::Unread(format!("the limits are left out: {e}")))
                })
            }
        }
    }

    /// The org's limits in `namespace`: their values now, which a dataset does not keep.
    pub async fn organization_limits(&self, namespace: &str) -> Family<Vec<OrganizationLimit>> {
        match self {
            Source::Api(api) => api.organization_limits(namespace).await,
            Source::Dataset(_) => family::not_kept("org limits"),
        }
    }

    /// The org's requests to raise a limit made in `days`, of every namespace.
    pub async fn change_requests(&self, days: DayWindow) -> Family<Vec<LimitChangeRequestDetails>> {
        match self {
            Source::Api(api) => api.change_requests(days).await,
            Source::Dataset(_) => family::not_kept("change requests"),
        }
    }

    /// The operational events created in `interval` (instants, the end excluded), of
    /// `entity` when one is given, each with its definition's name when known.
    pub async fn operational_events(
        &self,
        interval: &Interval,
        entity: Option<&str>,
    ) -> Family<Vec<Kept>> {
        match self {
            Source::Api(api) => api.operational_events(interval, entity).await,
            Source::Dataset(dataset) => dataset
                .operational_events(interval, entity)
                .await
                .unwrap_or_else(|e| {
                    Err(Unavailable::Unread(format!(
                        "the operational events are left out: {e}"
                    )))
                }),
        }
    }

    /// The operational events created in `interval` as they are now, named from `names`:
    /// the API's; a dataset is not live, and says so ([`Unavailable::NotKept`]).
    pub async fn live_events(
        &self,
        interval: &Interval,
        names: &HashMap<String, String>,
    ) -> Family<Vec<Kept>> {
        match self {
            Source::Api(api) => api.operational_events_named(interval, None, names).await,
            Source::Dataset(_) => Err(Unavailable::NotKept(
                "--from: a dataset is not live; the events as they happen come from the API".into(),
            )),
        }
    }

    /// The operational event definitions' names by id.
    pub async fn event_definition_names(&self) -> Family<HashMap<String, String>> {
        match self {
            Source::Api(api) => api.event_definition_names().await,
            Source::Dataset(_) => family::not_kept("event definitions"),
        }
    }

    /// Refuses (exit 2) days this source cannot answer for: more than a year back or past
    /// the last complete day for the API, outside the days it holds for a dataset.
    pub fn check_days(&self, days: DayWindow, flag: &str) -> Result<(), Failure> {
        match self {
            Source::Api(_) => Api::windows(days).map(drop),
            Source::Dataset(dataset) => dataset.check_window(days, flag),
        }
    }

    /// Why it cannot answer for all of `days`, said after them ("2025-11-01 to ... is past
    /// the year the API keeps"); `None` when it can.
    pub fn lacks(&self, days: DayWindow) -> Option<String> {
        match self {
            Source::Api(_) => (days.first() < earliest_first_day(today()))
                .then(|| "is past the year the API keeps".to_string()),
            Source::Dataset(dataset) => (!dataset.holds(days))
                .then(|| format!("is not all in the dataset (it holds {})", dataset.held())),
        }
    }

    /// The first day it can answer for, and how to say so.
    pub fn earliest(&self) -> (NaiveDate, &'static str) {
        match self {
            Source::Api(_) => (
                earliest_first_day(today()),
                "the Usage API keeps a year, from",
            ),
            Source::Dataset(dataset) => (dataset.held().first(), "--from: the dataset starts"),
        }
    }

    /// The last `n` complete days it has: up to yesterday for the API, up to its last
    /// complete day for a dataset (fewer when it holds fewer).
    pub fn recent_days(&self, n: u64) -> Result<DayWindow, Failure> {
        let (first, last) = match self {
            Source::Api(_) => {
                let today = today();
                let back = |days| {
                    today
                        .checked_sub_days(Days::new(days))
                        .ok_or_else(|| Failure::Usage("the calendar ends".into()))
                };
                (back(n)?, back(1)?)
            }
            Source::Dataset(dataset) => {
                let held = dataset.held();
                let last = held.last();
                let first = last
                    .checked_sub_days(Days::new(n.saturating_sub(1)))
                    .map_or(held.first(), |d| d.max(held.first()));
                (first, last)
            }
        };
        DayWindow::new(first, last).ok_or_else(|| Failure::Usage("no complete day yet".into()))
    }

    /// The same source with its state read again, when it has one (a sync may have moved
    /// a dataset's last complete day since it was opened).
    pub async fn reopened(&self) -> Result<Option<Source>, Failure> {
        match self {
            Source::Api(_) => Ok(None),
            Source::Dataset(dataset) => Ok(Some(Source::Dataset(dataset.reopen().await?))),
        }
    }

    /// What answers, as a report's heading names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Api(_) => "aggregates query jobs",
            Source::Dataset(_) => "synced dataset",
        }
    }

    /// Where the numbers come from, as a page states it: the demo's fake or the org, and
    /// the dataset they were read from.
    pub fn describe(&self) -> String {
        match self {
            Source::Api(api) => api.describe(),
            Source::Dataset(dataset) => {
                let whose = dataset.scope().whose();
                format!("{whose}, read from the dataset at {}", dataset.place())
            }
        }
    }

    /// The requests it has sent to the Usage API: none for a dataset, by construction.
    pub fn requests_sent(&self) -> u64 {
        match self {
            Source::Api(api) => api.requests_sent(),
            Source::Dataset(_) => 0,
        }
    }
}
