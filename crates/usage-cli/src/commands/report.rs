//! `report`: per OAuth client, its requests and 429s and the endpoints that got the most,
//! from aggregates query jobs (one per 90 days of the window) or one usage query.
//!
//! Through the jobs the report also shows the trend, at a known cost: besides the window's
//! totals (one job per window), one daily job per window grouped by client (the 429s day by
//! day) and the totals of the window of the same length before (one job per window of it),
//! when that window is inside the year the API keeps. `-v` says what the report spent.

use std::io::Write;

use chrono::Days;
use serde_json::json;
use usage_ext::models::{
    ApiUsageOrganizationQuery, Metric, OrganizationGroupBy, OrganizationPublicApiUsageQueryRequest,
};
use usage_ext::{DayWindow, earliest_first_day, split_days};

use crate::analysis::tally::{Look, Tally};
use crate::cli::resolve;
use crate::cli::{Api, Format, ReportArgs, Window};
use crate::exit::Failure;
use crate::render::html;
use crate::session::Session;
use crate::source::api as windowed;
use crate::source::dataset::{Column, DayRow, History};

/// What each job of a jobs report is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The window's totals per client and endpoint.
    Totals,
    /// The window's 429s per client and day.
    Daily,
    /// The previous window's totals per client and endpoint.
    Before,
}

/// The window of the same length just before `days`.
fn previous_window(days: DayWindow) -> Option<DayWindow> {
    let last = days.first().pred_opt()?;
    let first = last.checked_sub_days(Days::new(u64::from(days.days()) - 1))?;
    DayWindow::new(first, last)
}

/// The window before `days`, when the API still keeps all of it.
fn window_before(days: DayWindow) -> Option<DayWindow> {
    previous_window(days).filter(|b| b.first() >= earliest_first_day(resolve::today()))
}

fn totals_request(interval: &str) -> Result<OrganizationPublicApiUsageQueryRequest, Failure> {
    resolve::job_request(json!({
        "interval": interval,
        "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"],
        "metrics": ["Requests", "Status429"],
    }))
}

fn daily_request(interval: &str) -> Result<OrganizationPublicApiUsageQueryRequest, Failure> {
    resolve::job_request(json!({
        "interval": interval,
        "groupBy": ["OauthClientId"],
        "metrics": ["Status429"],
        "granularity": "Day",
    }))
}

pub async fn exec(session: &Session, args: &ReportArgs) -> Result<(), Failure> {
    let sent_before = session.queries.client().requests_sent();
    let (interval, days, api, clients, compared) = match args.api {
        Api::Query if session.history.is_some() => {
            return Err(Failure::Usage(
                "--from reads the daily rows `sync` kept of the jobs; --api query asks the Usage API: give one of them".into(),
            ));
        }
        Api::Query => {
            let interval = resolve::interval(&args.window)?;
            let clients = query_report(session, &interval, args.top).await?;
            (interval, None, "usage query", clients, None)
        }
        Api::Jobs => {
            let wants = Wants {
                daily: true,
                before: true,
                endpoints: true,
            };
            let (days, clients, before) = jobs_report(
                session,
                &args.window,
                args.top,
                args.concurrency.get(),
                wants,
            )
            .await?;
            let api = if session.history.is_some() {
                "synced dataset"
            } else {
                "aggregates query jobs"
            };
            (days.to_string(), Some(days), api, clients, before)
        }
    };
    let mut heading = format!("Usage by OAuth client, {interval} ({api}), by 429s then requests");
    if let Some(before) = compared {
        heading.push_str(&format!("; change against {before}"));
    }
    let spent = session.queries.client().requests_sent() - sent_before;
    session
        .progress
        .detail(&format!("report: {spent} requests to the Usage API"));
    let look = Look {
        heading: &heading,
        ascii: args.ascii || !session.utf8,
        csv: session.csv,
    };
    let mut out = session.out()?;
    let written = if session.format == Format::Html {
        let source = session.data_source();
        let page = html::Page {
            window: &interval,
            days,
            source: &source,
            compared,
        };
        html::write(&mut out, &page, &clients)
    } else {
        crate::analysis::tally::write(&mut out, session.format, &look, &clients)
    };
    written.and_then(|()| out.flush()).map_err(Failure::output)
}

async fn query_report(
    session: &Session,
    interval: &str,
    top: usize,
) -> Result<Vec<crate::analysis::tally::ClientReport>, Failure> {
    let query = ApiUsageOrganizationQuery::new(interval.to_string())
        .with_group_by([
            OrganizationGroupBy::OAuthClientId,
            OrganizationGroupBy::TemplateUri,
            OrganizationGroupBy::HttpMethod,
        ])
        .with_metrics([Metric::Requests, Metric::Status429]);
    let execution = session.queries.submit_organization(&query).await?;
    session.submitted("usage query", &execution.execution_id, None);
    let result = execution
        .wait_with(&session.queries, |e| session.progress.poll(e))
        .await?;
    session.done();
    let mut tally = Tally::default();
    for row in &result.results {
        crate::source::counts::check_query_row(row)?;
        tally.add(
            row.client_id(),
            row.client_name(),
            row.http_method.as_deref().unwrap_or_default(),
            row.template_uri.as_deref().unwrap_or_default(),
            row.requests.unwrap_or(0),
            row.status429.unwrap_or(0),
        );
    }
    Ok(tally.finish(top, None, None))
}

/// Which of the trend's jobs a report asks for, besides the totals.
#[derive(Clone, Copy)]
pub struct Wants {
    /// The 429s day by day.
    pub daily: bool,
    /// The window before, for the change.
    pub before: bool,
    /// Each client's endpoints (a dataset must then be grouped by them too).
    pub endpoints: bool,
}

/// The clients of a jobs report: its days, its clients, and the window compared with.
type JobsReport = (
    DayWindow,
    Vec<crate::analysis::tally::ClientReport>,
    Option<DayWindow>,
);

/// The report through the jobs, with the trend `wants` asks for.
pub async fn jobs_report(
    session: &Session,
    window: &Window,
    top: usize,
    concurrency: usize,
    wants: Wants,
) -> Result<JobsReport, Failure> {
    if let Some(history) = &session.history {
        return history_report(session, history, window, top, wants).await;
    }
    let days = resolve::job_days(window)?;
    let windows = split_days(days, resolve::today()).map_err(|e| Failure::Usage(e.to_string()))?;
    let before = window_before(days).filter(|_| wants.before);
    let mut jobs = Vec::new();
    let mut kinds = Vec::new();
    for window in &windows {
        jobs.push((*window, totals_request(&window.interval())?));
        kinds.push(Kind::Totals);
        if wants.daily {
            jobs.push((*window, daily_request(&window.interval())?));
            kinds.push(Kind::Daily);
        }
    }
    if let Some(before) = before {
        let split =
            split_days(before, resolve::today()).map_err(|e| Failure::Usage(e.to_string()))?;
        for window in split {
            jobs.push((window, totals_request(&window.interval())?));
            kinds.push(Kind::Before);
        }
    }
    let (mut now, mut then) = (Tally::default(), Tally::default());
    let started = windowed::start_jobs(session, &session.queries, jobs, concurrency);
    windowed::each_row(session, started, |index, row| {
        let client = row.oauth_client.as_ref();
        let id = client.and_then(|c| c.id.as_deref()).unwrap_or_default();
        let name = client.and_then(|c| c.name.as_deref()).unwrap_or_default();
        let method = row
            .http_method
            .as_ref()
            .map(|m| m.as_str())
            .unwrap_or_default();
        let uri = row.template_uri.as_deref().unwrap_or_default();
        let (requests, limited) = (row.request_count.unwrap_or(0), row.status429.unwrap_or(0));
        match kinds[index] {
            Kind::Totals => now.add(id, name, method, uri, requests, limited),
            Kind::Before => then.add(id, name, method, uri, requests, limited),
            Kind::Daily => match row.date {
                Some(date) if days.contains(date) => now.add_day(id, name, date, limited),
                _ => {
                    return Err(Failure::Malformed(format!(
                        "a row of the daily job has no date inside {days}: {row:?}"
                    )));
                }
            },
        }
        Ok(())
    })
    .await?;
    let clients = now.finish(top, wants.daily.then_some(days), before.map(|_| then));
    Ok((days, clients, before))
}

/// The same report from a synced dataset: its daily rows summed over the window, day by
/// day for the trend, and over the window before when the dataset holds all of it.
async fn history_report(
    session: &Session,
    history: &History,
    window: &Window,
    top: usize,
    wants: Wants,
) -> Result<JobsReport, Failure> {
    let mut needs = vec!["OauthClientId"];
    if wants.endpoints {
        needs.extend(["TemplateUri", "HttpMethod"]);
    }
    history.require(&needs, "a report per OAuth client and endpoint")?;
    let days = resolve::job_days(window)?;
    history.check_window(days, "--since/--interval")?;
    if history.filtered() {
        session.progress.note(
            "--from: the dataset was synced with filters; the figures are of the rows it kept",
        );
    }
    let before = previous_window(days).filter(|_| wants.before);
    let before = match before {
        Some(b) if history.holds(b) => Some(b),
        Some(b) => {
            session.progress.note(&format!(
                "--from: the window before, {b}, is not all in the dataset (it holds {}); no change is shown",
                history.held()
            ));
            None
        }
        None => None,
    };
    let columns = [
        Column::OauthClientId,
        Column::OauthClientName,
        Column::HttpMethod,
        Column::TemplateUri,
        Column::RequestCount,
        Column::Status429,
    ];
    let (mut now, mut then) = (Tally::default(), Tally::default());
    let missing = history
        .rows(days, &columns, |row| {
            let (id, name, method, uri, requests, limited) = fields(row);
            now.add(id, name, method, uri, requests, limited);
            if wants.daily {
                now.add_day(id, name, row.date, limited);
            }
            Ok(())
        })
        .await?;
    note_missing(session, &missing);
    if let Some(before) = before {
        let missing = history
            .rows(before, &columns, |row| {
                let (id, name, method, uri, requests, limited) = fields(row);
                then.add(id, name, method, uri, requests, limited);
                Ok(())
            })
            .await?;
        note_missing(session, &missing);
    }
    let clients = now.finish(top, wants.daily.then_some(days), before.map(|_| then));
    Ok((days, clients, before))
}

/// A gap in the history is said, not summed as zero.
pub fn note_missing(session: &Session, missing: &[chrono::NaiveDate]) {
    if missing.is_empty() {
        return;
    }
    let days: Vec<String> = missing.iter().map(ToString::to_string).collect();
    session.progress.note(&format!(
        "--from: the dataset has no file for {} day(s) of the window, left out of the figures: {}",
        missing.len(),
        days.join(", ")
    ));
}

/// What a report takes of a row: client id and name, method, endpoint, requests, 429s.
fn fields<'a>(row: &'a DayRow<'_>) -> (&'a str, &'a str, &'a str, &'a str, i64, i64) {
    (
        row.text(Column::OauthClientId),
        row.text(Column::OauthClientName),
        row.text(Column::HttpMethod),
        row.text(Column::TemplateUri),
        row.count(Column::RequestCount),
        row.count(Column::Status429),
    )
}
