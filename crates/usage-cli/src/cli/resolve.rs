//! Flags turned into what the API is sent, once, before anything is sent: intervals, the
//! job windows of a long interval, metrics and job requests. A flag the service would
//! refuse is refused here, with the flag's name.

use chrono::{Days, NaiveDate, Utc};
use usage_ext::DayWindow;
use usage_ext::models::Interval;

use crate::analysis::billing::{self, Allocation};
use crate::cli::{AllocationArgs, Window};
use crate::exit::Failure;
use crate::source::api::{Api, today};

/// `days` days before `today`.
pub fn days_before(today: NaiveDate, days: u32, flag: &str) -> Result<NaiveDate, Failure> {
    today
        .checked_sub_days(Days::new(u64::from(days)))
        .ok_or_else(|| Failure::Usage(format!("{flag} reaches before the calendar")))
}

/// The interval a window names: `--interval` as given (checked), or the last `--since`
/// days (7 by default) up to today.
pub fn interval(window: &Window) -> Result<String, Failure> {
    match (&window.interval, window.since) {
        (Some(text), _) => {
            let parsed =
                Interval::parse(text).map_err(|e| Failure::Usage(format!("--interval: {e}")))?;
            // Usage that has not happened yet cannot be asked for: a far end is a typo.
            let now = Utc::now();
            if parsed.end > now {
                return Err(Failure::Usage(format!(
                    "--interval: {text} ends {}, after now ({}): end it at the latest now",
                    parsed.end.format("%Y-%m-%dT%H:%M:%SZ"),
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                )));
            }
            Ok(text.clone())
        }
        (None, since) => {
            let today = today();
            let start = days_before(today, since.unwrap_or(7), "--since")?;
            Ok(format!("{start}/{today}"))
        }
    }
}

/// The instants a window names for what happens in real time (the operational events):
/// `--interval` as given (checked), or from the start of the day `--since` days back (7 by
/// default) up to now, to the second: today's events are the ones an operator is after.
pub fn instants(window: &Window) -> Result<String, Failure> {
    if window.interval.is_some() {
        return interval(window);
    }
    let now = Utc::now();
    let start = days_before(now.date_naive(), window.since.unwrap_or(7), "--since")?;
    Ok(format!(
        "{start}T00:00:00Z/{}",
        now.format("%Y-%m-%dT%H:%M:%SZ")
    ))
}

/// The days a window names for the jobs, whose interval counts both end days: `--interval`
/// as given, or the last `--since` days (7 by default) up to yesterday, the last day with
/// data.
pub fn job_days(window: &Window) -> Result<DayWindow, Failure> {
    match &window.interval {
        Some(text) => {
            let days = DayWindow::of_interval(text)
                .map_err(|e| Failure::Usage(format!("--interval: {e}")))?;
            // Refused here too, and not only where the jobs are split, so that a dataset
            // (`--from`) says the same of a day that cannot be complete.
            let last_complete = days_before(today(), 1, "--interval")?;
            if days.last() > last_complete {
                return Err(Failure::Usage(format!(
                    "--interval: {text} ends {}, after {last_complete}, the last complete day \
                     (UTC): end it on or before {last_complete}",
                    days.last()
                )));
            }
            Ok(days)
        }
        None => {
            let today = today();
            let first = days_before(today, window.since.unwrap_or(7), "--since")?;
            let last = days_before(today, 1, "--since")?;
            DayWindow::new(first, last).ok_or_else(|| Failure::Usage("--since has no day".into()))
        }
    }
}

/// The aggregates query jobs a window takes: one per 90 days at most, refused when it
/// starts more than a year back.
pub fn job_windows(window: &Window) -> Result<Vec<DayWindow>, Failure> {
    Api::windows(job_days(window)?)
}

/// The allocation the flags give (`--licenses` at an allowance table, or `--allocation`).
pub fn allocation(args: &AllocationArgs) -> Result<Allocation, Failure> {
    billing::allocation_of(
        args.licenses.as_deref(),
        args.allocation,
        args.allowances.as_deref(),
    )
}
