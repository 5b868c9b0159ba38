//! Flags turned into what the API is sent, once, before anything is sent: intervals, the
//! job windows of a long interval, metrics and job requests. A flag the service would
//! refuse is refused here, with the flag's name.

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
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

/// `--interval` read once, the same way in every command: dates name whole days, both ends
/// included (`2026-11-25/2026-12-03` is 25 November to 3 December; a month or a year names
/// all its days: `2026-10/2026-11` is 1 October to 30 November); date-times are instants,
/// the end excluded (`2026-10-01T00:00:00Z/2026-11-01T00:00:00Z` is October). `start` is the
/// first instant, `end` the instant after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    /// Reads `text` by the rule above; refused (exit 2) when it is no interval or empty.
    pub fn of(text: &str) -> Result<Self, Failure> {
        let refuse = |e: &dyn std::fmt::Display| Failure::Usage(format!("--interval: {e}"));
        let parsed = Interval::parse_job(text).map_err(|e| refuse(&e))?;
        let end_text = text.split_once('/').map_or("", |(_, end)| end);
        // A date (no time of day) names its whole day, month or year: the end is the first
        // instant after it.
        let end = match end_text.len() {
            _ if end_text.contains('T') => Some(parsed.end),
            10 => parsed.end.checked_add_days(Days::new(1)),
            7 => parsed.end.checked_add_months(Months::new(1)),
            4 => parsed.end.checked_add_months(Months::new(12)),
            _ => Some(parsed.end),
        }
        .ok_or_else(|| refuse(&"its end is past the calendar"))?;
        if parsed.start >= end {
            return Err(refuse(&format!("{text} does not start before it ends")));
        }
        Ok(Self {
            start: parsed.start,
            end,
        })
    }

    /// The days it touches, both included.
    pub fn days(&self) -> Option<DayWindow> {
        let last = self.end - chrono::Duration::nanoseconds(1);
        DayWindow::new(self.start.date_naive(), last.date_naive())
    }

    /// As the original query and the events take it: ISO-8601 instants, the end excluded.
    pub fn instants(&self) -> String {
        format!(
            "{}/{}",
            self.start.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.end.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        )
    }
}

/// The interval a window names for the original query: `--interval` read by [`Span`] and
/// sent as instants (checked: not after now), or the last `--since` days (7 by default) up
/// to today.
pub fn interval(window: &Window) -> Result<String, Failure> {
    match (&window.interval, window.since) {
        (Some(text), _) => {
            let span = Span::of(text)?;
            // Usage that has not happened yet cannot be asked for: a far end is a typo.
            let now = Utc::now();
            if span.end > now {
                return Err(Failure::Usage(format!(
                    "--interval: {text} ends {}, after now ({}): end it at the latest now",
                    span.end.format("%Y-%m-%dT%H:%M:%SZ"),
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                )));
            }
            Ok(span.instants())
        }
        (None, since) => {
            let today = today();
            let start = days_before(today, since.unwrap_or(7), "--since")?;
            Ok(format!("{start}/{today}"))
        }
    }
}

/// The window of [`interval`] as people read it: its days (`first/last`, both included)
/// where it is whole days, else its instants.
pub fn shown(window: &Window) -> Result<String, Failure> {
    let Some(text) = &window.interval else {
        // `--since N`: the N days before today, as `interval` sends them.
        let today = today();
        let first = days_before(today, window.since.unwrap_or(7), "--since")?;
        return Ok(format!("{first}/{}", days_before(today, 1, "--since")?));
    };
    let span = Span::of(text)?;
    let midnight = |t: DateTime<Utc>| t.time() == chrono::NaiveTime::MIN;
    match span.days() {
        Some(days) if midnight(span.start) && midnight(span.end) => Ok(days.to_string()),
        _ => Ok(span.instants()),
    }
}

/// The instants a window names for what happens in real time (the operational events):
/// `--interval` read by [`Span`] (checked), or from the start of the day `--since` days back
/// (7 by default) up to now, to the second: today's events are the ones an operator is after.
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

/// The days a window names for the jobs (daily data): `--interval` read by [`Span`], every
/// day it touches, or the last `--since` days (7 by default) up to yesterday, the last day
/// with data.
pub fn job_days(window: &Window) -> Result<DayWindow, Failure> {
    match &window.interval {
        Some(text) => {
            let days = Span::of(text)?
                .days()
                .ok_or_else(|| Failure::Usage(format!("--interval: {text} has no day")))?;
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

/// Where `--notify` is read from when not given: a URL in a command line is in every `ps`.
pub const NOTIFY_VAR: &str = "GENESYS_USAGE_NOTIFY_URL";

/// The webhook of `--notify` (or of `GENESYS_USAGE_NOTIFY_URL`), checked before anything is
/// sent; none when neither is given.
pub fn webhook(
    args: &crate::cli::NotifyArgs,
    vars: &[(String, String)],
) -> Result<Option<crate::notify::Webhook>, Failure> {
    let url = args.notify.clone().or_else(|| {
        vars.iter()
            .find(|(k, v)| k == NOTIFY_VAR && !v.is_empty())
            .map(|(_, v)| v.clone())
    });
    if url.is_none() && args.notify_format.is_some() {
        return Err(Failure::Usage(format!(
            "--notify-format needs a webhook: --notify URL or {NOTIFY_VAR}"
        )));
    }
    url.as_deref()
        .map(|url| crate::notify::Webhook::parse(url, args.notify_format))
        .transpose()
        .map_err(Failure::Usage)
}

/// The live feed's alerts of `command` (`watch`, `serve`): the webhook, how often per client
/// and limit, and the file the ones sent are kept in; none without a webhook.
pub fn live_alerts(
    args: &crate::cli::LiveAlertArgs,
    vars: &[(String, String)],
    command: &str,
) -> Result<Option<crate::live::alerts::Settings>, Failure> {
    let Some(webhook) = webhook(&args.notify, vars)? else {
        return Ok(None);
    };
    let state = args
        .notify_state
        .clone()
        .or_else(|| crate::live::alerts::default_state(vars, command))
        .ok_or_else(|| {
            Failure::Usage(
                "--notify: no HOME or XDG_STATE_HOME to keep the alerts sent in; give \
                 --notify-state FILE"
                    .into(),
            )
        })?;
    Ok(Some(crate::live::alerts::Settings {
        webhook,
        every: args.notify_every,
        state,
        command: command.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::Span;

    fn days(text: &str) -> String {
        Span::of(text).unwrap().days().unwrap().to_string()
    }

    #[test]
    fn one_reading_of_an_interval() {
        // Dates: whole days, both ends included.
        assert_eq!(
            Span::of("2026-11-25/2026-12-03").unwrap().instants(),
            "2026-11-25T00:00:00.000Z/2026-12-04T00:00:00.000Z"
        );
        assert_eq!(
            days("2026-11-25/2026-12-03"),
            days("2026-11-25/2026-12-03T23:59:59.999Z")
        );
        assert_eq!(
            Span::of("2026-12-02/2026-12-02").unwrap().instants(),
            "2026-12-02T00:00:00.000Z/2026-12-03T00:00:00.000Z",
            "one day"
        );
        // Months and years: all their days.
        assert_eq!(
            Span::of("2026-10/2026-11").unwrap().instants(),
            "2026-10-01T00:00:00.000Z/2026-12-01T00:00:00.000Z"
        );
        assert_eq!(
            Span::of("2025/2025").unwrap().instants(),
            "2025-01-01T00:00:00.000Z/2026-01-01T00:00:00.000Z"
        );
        // Instants: the end excluded.
        let october = Span::of("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z").unwrap();
        assert_eq!(
            october.days().unwrap(),
            Span::of("2026-10-01/2026-10-31").unwrap().days().unwrap()
        );
        assert_eq!(
            october.instants(),
            Span::of("2026-10/2026-10").unwrap().instants()
        );
        for bad in [
            "2026-12-03/2026-12-02",
            "2026-10-01T00:00:00Z/2026-10-01T00:00:00Z",
            "last week",
            "2026-10-01",
        ] {
            assert!(Span::of(bad).is_err(), "{bad}");
        }
    }
}
