//! `jobs`: aggregates query jobs, one per 90 days of the window, their rows streamed page
//! by page in window order; or, with `--from`, the daily rows a dataset holds, as synced.

use std::io::Write as _;

use usage_ext::DayWindow;
use usage_ext::models::{
    Granularity, OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest,
};

use crate::analysis::usage::Backfill;
use crate::cli::{Format, JobsArgs, resolve};
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::render::metrics;
use crate::render::output::Sink;
use crate::session::Session;
use crate::source::Source;
use crate::source::api::{Api, job_request};
use crate::source::row::Ask;

/// The data formats, and Prometheus's backfill of daily rows.
const WITH_BACKFILL: &[Format] = &[
    Format::Table,
    Format::Csv,
    Format::Json,
    Format::Ndjson,
    Format::Openmetrics,
];

/// `jobs --from`: the dataset's daily rows.
pub const EXPORT: Declared = writes(WITH_BACKFILL);

/// The jobs of the window, resolved from the flags.
pub struct Plan {
    windows: Vec<DayWindow>,
    request: OrganizationPublicApiUsageQueryRequest,
    page_size: u32,
    concurrency: usize,
}

impl Plan {
    /// Prometheus's backfill takes daily rows only.
    pub fn declared(&self) -> Declared {
        let daily = self.request.granularity == Some(Granularity::Day);
        Declared {
            formats: if daily { WITH_BACKFILL } else { DATA },
            own_signals: false,
            several_orgs: false,
        }
    }
}

/// The dataset's rows of the window.
pub struct ExportPlan {
    pub from: String,
    days: DayWindow,
}

/// The API's jobs, or the dataset's rows.
pub enum Resolved {
    Api(Box<Plan>),
    Export(ExportPlan),
}

pub fn plan(args: JobsArgs) -> Result<Resolved, Failure> {
    if let Some(from) = args.dataset.from {
        let f = &args.filters;
        let filtered = [
            (!f.template_uri.is_empty(), "--template-uri"),
            (!f.http_method.is_empty(), "--http-method"),
            (!f.platform.is_empty(), "--platform"),
            (!f.user_id.is_empty(), "--user-id"),
            (!f.oauth_client_id.is_empty(), "--oauth-client-id"),
        ];
        if let Some((_, flag)) = filtered.iter().find(|(given, _)| *given) {
            return Err(Failure::Usage(format!(
                "--from exports the dataset's rows as they were synced; {flag} filters the \
                 API's jobs: give one of them"
            )));
        }
        let days = resolve::job_days(&args.window)?;
        return Ok(Resolved::Export(ExportPlan { from, days }));
    }
    let windows = resolve::job_windows(&args.window)?;
    let mut request = job_request(windows[0].interval());
    request.group_by = args.group_by;
    request.metrics = args.metrics;
    request.granularity = args.granularity;
    request.template_uris = args.filters.template_uri;
    request.http_methods = args.filters.http_method;
    request.platforms = args.filters.platform;
    request.user_ids = args.filters.user_id;
    request.oauth_client_ids = args.filters.oauth_client_id;
    request.sort_by = args.sort_by;
    Ok(Resolved::Api(Box::new(Plan {
        windows,
        request,
        page_size: args.paging.page_size,
        concurrency: args.paging.jobs.concurrency.get(),
    })))
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let queries = api
        .queries()
        .clone()
        .with_page_size(plan.page_size)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let jobs = plan
        .windows
        .iter()
        .map(|window| {
            let mut request = plan.request.clone();
            request.interval = window.interval();
            (*window, request)
        })
        .collect();
    let jobs = api.start_jobs(&queries, jobs, plan.concurrency);
    if session.format == Format::Openmetrics {
        // Prometheus's backfill takes each family whole: the days are gathered first.
        let mut backfill = Backfill::default();
        api.each_row(jobs, |_, row| {
            backfill.add(&row).map_err(Failure::Malformed)
        })
        .await?;
        return write_backfill(session, &backfill);
    }
    let mut sink =
        Sink::new(session.format, session.csv, session.out()?).map_err(Failure::output)?;
    api.each_row(jobs, |_, row| sink.row(&row).map_err(Failure::output))
        .await?;
    sink.finish().map_err(Failure::output)
}

/// `jobs --from`: the daily rows of the window as they were synced, in date order; the same
/// formats as the API's rows.
pub async fn export(session: &Session, source: &Source, plan: &ExportPlan) -> Result<(), Failure> {
    source.check_days(plan.days, "--since/--interval")?;
    let ask = [Ask {
        days: plan.days,
        columns: Column::ALL.to_vec(),
        daily: true,
        needs: Vec::new(),
        purpose: "an export",
    }];
    if session.format == Format::Openmetrics {
        let mut backfill = Backfill::default();
        source
            .rows(&ask, 1, |_, row| {
                backfill.add(&row.to_model()).map_err(Failure::Malformed)
            })
            .await?;
        return write_backfill(session, &backfill);
    }
    let mut sink =
        Sink::<OrganizationPublicApiUsage>::new(session.format, session.csv, session.out()?)
            .map_err(Failure::output)?;
    source
        .rows(&ask, 1, |_, row| {
            sink.row(&row.to_model()).map_err(Failure::output)
        })
        .await?;
    sink.finish().map_err(Failure::output)
}

/// Prometheus's backfill, each family whole.
fn write_backfill(session: &Session, backfill: &Backfill) -> Result<(), Failure> {
    let mut out = session.out()?;
    out.write_all(metrics::backfill(backfill).as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}
