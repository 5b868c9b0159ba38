//! `report`: per OAuth client, its requests and 429s and the endpoints that got the most,
//! from a source of rows (the aggregates query jobs, one per 90 days of the window, or a
//! synced dataset) with the trend, or from one usage query (`--api query`).
//!
//! Through the jobs the report shows the trend at a known cost: besides the window's totals
//! (one job per window), one daily job per window grouped by client (the 429s day by day)
//! and the totals of the window of the same length before (one job per window of it), when
//! that window is inside the year the API keeps. `-v` says what the report spent.

use std::io::Write;

use usage_ext::DayWindow;
use usage_ext::models::{ApiUsageOrganizationQuery, Metric, OrganizationGroupBy};

use crate::analysis::limits::OrgLimit;
use crate::analysis::report::{self, Wants};
use crate::analysis::tally::{ClientReport, Tally};
use crate::cli::{Api as Generation, Format, ReportArgs, resolve};
use crate::commands::declared::{DATA_AND_PAGE, Declared, writes};
use crate::exit::Failure;
use crate::render::html;
use crate::render::report::{Look, write};
use crate::session::Session;
use crate::source::Source;
use crate::source::api::Api;
use crate::source::counts;

pub const DECLARED: Declared = writes(DATA_AND_PAGE);

/// `--api query`: one usage query, no trend.
pub const BY_QUERY: Declared = writes(DATA_AND_PAGE);

/// The report through the jobs or a dataset, resolved from the flags.
pub struct Plan {
    pub from: Option<String>,
    days: DayWindow,
    top: usize,
    ascii: bool,
    concurrency: usize,
}

/// The report through one usage query.
pub struct QueryPlan {
    interval: String,
    /// The window as people read it: its days, both included, where it is whole days.
    shown: String,
    top: usize,
    ascii: bool,
}

/// A report through rows (the jobs or a dataset), or through one usage query.
pub enum Resolved {
    Rows(Plan),
    ByQuery(QueryPlan),
}

pub fn plan(args: ReportArgs) -> Result<Resolved, Failure> {
    Ok(match args.api {
        Generation::Query if args.dataset.from.is_some() => {
            return Err(Failure::Usage(
                "--from reads the daily rows `sync` kept of the jobs; --api query asks the Usage API: give one of them".into(),
            ));
        }
        Generation::Query => Resolved::ByQuery(QueryPlan {
            interval: resolve::interval(&args.window)?,
            shown: resolve::shown(&args.window)?,
            top: args.top,
            ascii: args.ascii,
        }),
        Generation::Jobs => Resolved::Rows(Plan {
            from: args.dataset.from,
            days: resolve::job_days(&args.window)?,
            top: args.top,
            ascii: args.ascii,
            concurrency: args.jobs.concurrency.get(),
        }),
    })
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    let sent_before = source.requests_sent();
    let wants = Wants {
        daily: true,
        before: true,
        endpoints: true,
    };
    let mut report = report::clients(
        source,
        &session.progress,
        plan.days,
        plan.top,
        plan.concurrency,
        wants,
    )
    .await?;
    // One request more: which limit each client came near, and when.
    let org_limits = report::near_limits(source, &mut report)
        .await
        .unwrap_or_else(|why| {
            session.progress.note(&format!("report: {why}"));
            Vec::new()
        });
    let mut heading = format!(
        "Usage by OAuth client, {} ({}), by 429s then requests",
        report.days,
        source.kind()
    );
    if let Some(before) = report.before {
        heading.push_str(&format!("; change against {before}"));
    }
    let spent = source.requests_sent() - sent_before;
    session
        .progress
        .detail(&format!("report: {spent} requests to the Usage API"));
    let page = Page {
        heading: &heading,
        window: &report.days.to_string(),
        days: Some(report.days),
        compared: report.before,
        ascii: plan.ascii,
        source: &source.describe(),
        limits: &org_limits,
    };
    print(session, &page, &report.clients)
}

pub async fn exec_query(session: &Session, api: &Api, plan: &QueryPlan) -> Result<(), Failure> {
    let sent_before = api.requests_sent();
    let clients = query_report(api, &plan.interval, plan.top).await?;
    let heading = format!(
        "Usage by OAuth client, {} (usage query), by 429s then requests",
        plan.shown
    );
    let spent = api.requests_sent() - sent_before;
    session
        .progress
        .detail(&format!("report: {spent} requests to the Usage API"));
    let source = api.describe();
    let page = Page {
        heading: &heading,
        window: &plan.shown,
        days: None,
        compared: None,
        ascii: plan.ascii,
        source: &source,
        limits: &[],
    };
    print(session, &page, &clients)
}

/// What the report is headed with, whichever way it was made.
struct Page<'a> {
    heading: &'a str,
    window: &'a str,
    days: Option<DayWindow>,
    compared: Option<DayWindow>,
    ascii: bool,
    source: &'a str,
    /// The org's limits by hours spent near them (empty through `--api query`).
    limits: &'a [OrgLimit],
}

fn print(session: &Session, page: &Page<'_>, clients: &[ClientReport]) -> Result<(), Failure> {
    let mut out = session.out()?;
    let written = if session.format == Format::Html {
        let html_page = html::Page {
            window: page.window,
            days: page.days,
            source: page.source,
            compared: page.compared,
        };
        html::write(&mut out, &html_page, clients)
    } else {
        let look = Look {
            heading: page.heading,
            ascii: page.ascii || !session.utf8,
            csv: session.csv,
            limits: page.limits,
        };
        write(&mut out, session.format, &look, clients)
    };
    written.and_then(|()| out.flush()).map_err(Failure::output)
}

async fn query_report(api: &Api, interval: &str, top: usize) -> Result<Vec<ClientReport>, Failure> {
    let query = ApiUsageOrganizationQuery::new(interval.to_string())
        .with_group_by([
            OrganizationGroupBy::OAuthClientId,
            OrganizationGroupBy::TemplateUri,
            OrganizationGroupBy::HttpMethod,
        ])
        .with_metrics([Metric::Requests, Metric::Status429]);
    let execution = api.queries().submit_organization(&query).await?;
    api.submitted("usage query", &execution.execution_id, None);
    let result = execution
        .wait_with(api.queries(), |e| api.polled(e))
        .await?;
    api.done();
    let mut tally = Tally::default();
    for row in &result.results {
        counts::check_query_row(row)?;
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
