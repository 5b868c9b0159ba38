//! Intervals longer than one aggregates query job may span, as the jobs that cover them.
//!
//! The service takes a job's interval only when it starts at most a year ago and ends at
//! most 90 days after its start, both ends counted as whole days. A longer history is
//! therefore several jobs: [`split_days`] cuts the days into windows of at most
//! [`WINDOW_DAYS`] calendar days (UTC), each day in exactly one window, and
//! [`UsageQueries::aggregate_windows`] runs them with bounded concurrency and hands their
//! pages back in window order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use usage_client::models::{
    Interval, OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest,
};

use crate::error::Error;
use crate::jobs::{Job, Pages};
use crate::poll::PollEvent;
use crate::queries::UsageQueries;
use crate::validate::ValidationError;

/// The days of one window (and so of one job). Ninety days, first and last included, stays
/// inside the service's "end at most 90 days after the start" however it counts the end.
pub const WINDOW_DAYS: u32 = 90;

/// How far back a job may start, in days before today (UTC). The service refuses a start
/// more than a year (366 days, counted to the instant) before the moment it gets the job:
/// a first day 365 days back is inside that at any time of today.
pub const MAX_HISTORY_DAYS: u32 = 365;

/// Calendar days in UTC, `first` to `last`, both included: the interval of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayWindow {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayWindow {
    /// The days from `first` to `last`, both included; `None` when `last` is before `first`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Option<Self> {
        (first <= last).then_some(Self { first, last })
    }

    /// The days a job's interval covers: from the start's day to the end's day, both
    /// included, as the service counts a job's interval.
    pub fn of_interval(interval: &str) -> Result<Self, ValidationError> {
        let parsed = Interval::parse_job(interval)?;
        let (first, last) = (parsed.start.date_naive(), parsed.end.date_naive());
        Ok(Self {
            first,
            last: last.max(first),
        })
    }

    /// The first day.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// The last day (included).
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// How many days it holds.
    pub fn days(&self) -> u32 {
        // At most the calendar's span, which fits: NaiveDate covers about 524,000 years.
        u32::try_from((self.last - self.first).num_days() + 1).unwrap_or(u32::MAX)
    }

    /// Whether `day` is one of its days.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }

    /// The job interval that asks for exactly these days: `first/last`, ISO-8601 dates.
    pub fn interval(&self) -> String {
        format!("{}/{}", self.first, self.last)
    }
}

impl fmt::Display for DayWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.first, self.last)
    }
}

/// The earliest first day a job may have today: [`MAX_HISTORY_DAYS`] before `today`.
pub fn earliest_first_day(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_days(Days::new(u64::from(MAX_HISTORY_DAYS)))
        .unwrap_or(NaiveDate::MIN)
}

/// The windows of at most [`WINDOW_DAYS`] days that cover `days`, in order, each day in
/// exactly one. Refused before anything is sent: a first day more than
/// [`MAX_HISTORY_DAYS`] before `today` (the service keeps one year), and a last day of
/// `today` or later (no complete usage yet; `9999-12-31` would be some 32,000 jobs).
pub fn split_days(days: DayWindow, today: NaiveDate) -> Result<Vec<DayWindow>, ValidationError> {
    if days.last >= today {
        return Err(ValidationError::NotYetComplete {
            last: days.last.to_string(),
            last_complete: today.pred_opt().unwrap_or(today).to_string(),
        });
    }
    let earliest = earliest_first_day(today);
    if days.first < earliest {
        return Err(ValidationError::TooFarBack {
            first: days.first.to_string(),
            earliest: earliest.to_string(),
        });
    }
    let mut windows = Vec::new();
    let mut first = days.first;
    loop {
        let last = first
            .checked_add_days(Days::new(u64::from(WINDOW_DAYS - 1)))
            .unwrap_or(NaiveDate::MAX)
            .min(days.last);
        windows.push(DayWindow { first, last });
        match last.succ_opt() {
            Some(next) if last < days.last => first = next,
            _ => return Ok(windows),
        }
    }
}

/// What a run of windows reports while its jobs wait.
#[derive(Debug)]
#[non_exhaustive]
pub enum WindowEvent<'a> {
    /// The window's job was submitted.
    Submitted {
        /// The window.
        window: DayWindow,
        /// Its job, to resume with.
        job: &'a Job<OrganizationPublicApiUsage>,
    },
    /// The window's job was polled.
    Polled {
        /// The window.
        window: DayWindow,
        /// The poll.
        event: &'a PollEvent,
    },
}

/// Called with each [`WindowEvent`], from the tasks the waits run in.
pub type OnWindowEvent = Arc<dyn Fn(WindowEvent<'_>) + Send + Sync>;

/// Organization jobs, one per window, of which at most `concurrency` are submitted and
/// waited for at once; [`next`](Self::next) hands each window's pages back in window order.
/// Dropping it stops the waits still running (as dropping a wait does).
pub struct WindowJobs {
    started: VecDeque<(DayWindow, Waiting)>,
    waiting: std::vec::IntoIter<(DayWindow, OrganizationPublicApiUsageQueryRequest)>,
    start:
        Box<dyn Fn((DayWindow, OrganizationPublicApiUsageQueryRequest)) -> Waiting + Send + Sync>,
}

/// One window's job, submitted and waited for in a task of its own.
type Waiting = tokio::task::JoinHandle<Result<Pages<OrganizationPublicApiUsage>, Error>>;

impl fmt::Debug for WindowJobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowJobs")
            .field(
                "started",
                &self.started.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
            )
            .field(
                "waiting",
                &self
                    .waiting
                    .as_slice()
                    .iter()
                    .map(|(w, _)| *w)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl WindowJobs {
    /// The next window in order, with its job's pages once the job has succeeded (or why
    /// it did not); `None` after the last. Taking one starts the next window's job, so
    /// that at most `concurrency` jobs wait while the caller pages.
    pub async fn next(
        &mut self,
    ) -> Option<(DayWindow, Result<Pages<OrganizationPublicApiUsage>, Error>)> {
        let (window, handle) = self.started.pop_front()?;
        if let Some(next) = self.waiting.next() {
            self.started.push_back((next.0, (self.start)(next)));
        }
        let result = match handle.await {
            Ok(result) => result,
            // A panic in the wait is the caller's, as it would be without the task.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::WindowStopped {
                window: window.to_string(),
            }),
        };
        Some((window, result))
    }

    /// The windows not handed back yet.
    pub fn remaining(&self) -> usize {
        self.started.len() + self.waiting.len()
    }
}

impl Drop for WindowJobs {
    fn drop(&mut self) {
        for (_, handle) in &self.started {
            handle.abort();
        }
    }
}

impl UsageQueries {
    /// Runs `query` once per window (its interval replaced by the window's), at most
    /// `concurrency` jobs submitted and waiting at once (at least one), and returns them to
    /// take in window order. Must be called inside a tokio runtime: the waits run as tasks,
    /// so that they go on while the caller pages an earlier window.
    pub fn aggregate_windows(
        &self,
        query: &OrganizationPublicApiUsageQueryRequest,
        windows: Vec<DayWindow>,
        concurrency: usize,
        on_event: OnWindowEvent,
    ) -> WindowJobs {
        let jobs = windows
            .into_iter()
            .map(|window| {
                let mut query = query.clone();
                query.interval = window.interval();
                (window, query)
            })
            .collect();
        self.aggregate_jobs(jobs, concurrency, on_event)
    }

    /// [`aggregate_windows`](Self::aggregate_windows) for jobs that differ in more than
    /// their window: each request is sent as given (its interval is the caller's), and the
    /// jobs are handed back in the order of `jobs`.
    pub fn aggregate_jobs(
        &self,
        jobs: Vec<(DayWindow, OrganizationPublicApiUsageQueryRequest)>,
        concurrency: usize,
        on_event: OnWindowEvent,
    ) -> WindowJobs {
        let queries = self.clone();
        let start = move |(window, query): (DayWindow, OrganizationPublicApiUsageQueryRequest)| {
            let queries = queries.clone();
            let on_event = on_event.clone();
            tokio::spawn(async move {
                let job = queries.submit_aggregate(&query).await?;
                on_event(WindowEvent::Submitted { window, job: &job });
                job.wait_with(&queries, |event| {
                    on_event(WindowEvent::Polled { window, event })
                })
                .await
            })
        };
        let mut waiting = jobs.into_iter();
        let started = waiting
            .by_ref()
            .take(concurrency.max(1))
            .map(|job| (job.0, start(job)))
            .collect();
        WindowJobs {
            started,
            waiting,
            start: Box::new(start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn window(first: &str, last: &str) -> DayWindow {
        DayWindow::new(day(first), day(last)).unwrap()
    }

    #[test]
    fn a_year_is_five_windows_with_no_day_twice_and_none_missing() {
        let today = day("2026-12-01");
        let year = window("2025-12-01", "2026-11-30");
        let windows = split_days(year, today).unwrap();
        assert_eq!(windows.len(), 5, "{windows:?}");
        assert_eq!(windows[0], window("2025-12-01", "2026-02-28"));
        assert_eq!(windows[0].days(), 90);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].last().succ_opt(), Some(pair[1].first()), "{pair:?}");
        }
        assert_eq!(windows.last().unwrap().last(), year.last());
        let total: u32 = windows.iter().map(DayWindow::days).sum();
        assert_eq!(total, year.days());
        assert!(windows.iter().all(|w| w.days() <= WINDOW_DAYS));
    }

    #[test]
    fn a_short_interval_is_one_window_and_a_day_is_one_day() {
        let today = day("2026-12-01");
        let week = window("2026-11-01", "2026-11-07");
        assert_eq!(split_days(week, today).unwrap(), vec![week]);
        let one = window("2026-11-01", "2026-11-01");
        assert_eq!(split_days(one, today).unwrap(), vec![one]);
        let exact = window("2026-08-01", "2026-10-29");
        assert_eq!(exact.days(), 90);
        assert_eq!(split_days(exact, today).unwrap(), vec![exact]);
        let one_more = window("2026-08-01", "2026-10-30");
        assert_eq!(split_days(one_more, today).unwrap().len(), 2);
    }

    #[test]
    fn a_last_day_after_the_last_complete_day_is_refused_naming_it() {
        let today = day("2026-12-01");
        assert!(split_days(window("2026-11-01", "2026-11-30"), today).is_ok());
        for last in ["2026-12-01", "2028-12-31", "9999-12-31"] {
            let err = split_days(window("2026-11-01", last), today).unwrap_err();
            assert!(
                matches!(&err, ValidationError::NotYetComplete { last_complete, .. } if last_complete == "2026-11-30"),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(last) && text.contains("2026-11-30"), "{text}");
        }
    }

    #[test]
    fn a_start_more_than_a_year_back_is_refused_naming_the_limit() {
        let today = day("2026-12-01");
        assert!(split_days(window("2025-12-01", "2026-01-01"), today).is_ok());
        let err = split_days(window("2025-11-30", "2026-01-01"), today).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("2025-11-30") && text.contains("a year"),
            "{text}"
        );
        assert!(text.contains("2025-12-01"), "{text}");
        // The day furthest back passes the service's own rule at the last instant of today.
        let now = today.and_hms_opt(23, 59, 59).unwrap().and_utc().timestamp();
        let furthest = window("2025-12-01", "2026-02-28");
        assert_eq!(
            crate::validate::job_interval(&furthest.interval(), now),
            Ok(())
        );
    }

    #[test]
    fn a_job_interval_counts_both_end_days() {
        let w = DayWindow::of_interval("2026-10-01/2026-10-08").unwrap();
        assert_eq!(w, window("2026-10-01", "2026-10-08"));
        assert_eq!(w.interval(), "2026-10-01/2026-10-08");
        assert_eq!(DayWindow::of_interval(&w.interval()).unwrap(), w);
        assert!(DayWindow::of_interval("2026-10-08/2026-10-01").is_err());
        assert!(DayWindow::new(day("2026-10-08"), day("2026-10-01")).is_none());
    }
}
