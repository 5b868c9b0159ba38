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

use crate::cli::{Api, Format, ReportArgs, Window};
use crate::exit::Failure;
use crate::session::Session;
use crate::tally::{Look, Tally};
use crate::{html, resolve, windowed};

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

/// The window of the same length just before `days`, when the API still keeps all of it.
fn window_before(days: DayWindow) -> Option<DayWindow> {
    let last = days.first().pred_opt()?;
    let first = last.checked_sub_days(Days::new(u64::from(days.days()) - 1))?;
    (first >= earliest_first_day(resolve::today())).then_some(DayWindow::new(first, last)?)
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
        Api::Query => {
            let interval = resolve::interval(&args.window)?;
            let clients = query_report(session, &interval, args.top).await?;
            (interval, None, "usage query", clients, None)
        }
        Api::Jobs => {
            let wants = Wants {
                daily: true,
                before: true,
            };
            let (days, clients, before) = jobs_report(
                session,
                &args.window,
                args.top,
                args.concurrency.get(),
                wants,
            )
            .await?;
            (
                days.to_string(),
                Some(days),
                "aggregates query jobs",
                clients,
                before,
            )
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
    if session.format == Format::Html {
        let source = if session.demo {
            "demo data (the built-in usage-fake; generated, not an org's)".to_string()
        } else {
            session.scope.clone()
        };
        let page = html::Page {
            window: &interval,
            days,
            source: &source,
            compared,
        };
        html::write(&mut out, &page, &clients)?;
    } else {
        crate::tally::write(&mut out, session.format, &look, &clients)?;
    }
    out.flush()?;
    Ok(())
}

async fn query_report(
    session: &Session,
    interval: &str,
    top: usize,
) -> Result<Vec<crate::tally::ClientReport>, Failure> {
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
}

/// The clients of a jobs report: its days, its clients, and the window compared with.
type JobsReport = (
    DayWindow,
    Vec<crate::tally::ClientReport>,
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
                    return Err(Failure::Api(
                        format!("a row of the daily job has no date inside {days}: {row:?}").into(),
                    ));
                }
            },
        }
        Ok(())
    })
    .await?;
    let clients = now.finish(top, wants.daily.then_some(days), before.map(|_| then));
    Ok((days, clients, before))
}
