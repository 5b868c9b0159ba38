//! `jobs`: aggregates query jobs, one per 90 days of the window, their rows streamed page
//! by page in window order.

use usage_ext::Pages;
use usage_ext::models::OrganizationPublicApiUsage;

use std::io::Write as _;

use crate::cli::resolve;
use crate::cli::{Format, JobsArgs};
use crate::exit::Failure;
use crate::render::metrics::Backfill;
use crate::render::output::{Record, Sink};
use crate::session::Session;
use crate::source::api as windowed;
use crate::source::dataset::{Column, History};

pub async fn exec(session: &Session, args: &JobsArgs) -> Result<(), Failure> {
    if let Some(history) = &session.history {
        return export_history(session, history, args).await;
    }
    let windows = resolve::job_windows(&args.window)?;
    let request = resolve::jobs_request(args, &windows[0].interval())?;
    let queries = session
        .queries
        .clone()
        .with_page_size(args.paging.page_size)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let jobs = windowed::start(
        session,
        &queries,
        &request,
        windows,
        args.paging.concurrency.get(),
    );
    if session.format == Format::Openmetrics {
        // Prometheus's backfill takes each family whole: the days are gathered first.
        let mut backfill = Backfill::default();
        windowed::each_row(session, jobs, |_, row| {
            backfill.add(&row).map_err(Failure::Malformed)
        })
        .await?;
        return write_backfill(session, &backfill);
    }
    let mut sink =
        Sink::new(session.format, session.csv, session.out()?).map_err(Failure::output)?;
    windowed::each_row(session, jobs, |_, row| {
        sink.row(&row).map_err(Failure::output)
    })
    .await?;
    sink.finish().map_err(Failure::output)
}

/// Prometheus's backfill, each family whole.
fn write_backfill(session: &Session, backfill: &Backfill) -> Result<(), Failure> {
    let mut out = session.out()?;
    out.write_all(backfill.render().as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// Streams a job's rows page by page: memory holds one page, whatever the format but
/// the table.
pub async fn print_pages<R>(session: &Session, mut pages: Pages<R>) -> Result<(), Failure>
where
    R: Record + usage_ext::JobRow,
{
    let mut sink =
        Sink::<R>::new(session.format, session.csv, session.out()?).map_err(Failure::output)?;
    while let Some(page) = pages.next_page().await {
        for row in &page? {
            sink.row(row).map_err(Failure::output)?;
        }
        session
            .progress
            .status(&format!("paging · {} rows", sink.count()));
    }
    session.done();
    sink.finish().map_err(Failure::output)
}

/// `jobs --from`: the dataset's daily rows of the window, as they were synced, in date
/// order; the same formats as the API's rows.
async fn export_history(
    session: &Session,
    history: &History,
    args: &JobsArgs,
) -> Result<(), Failure> {
    let days = resolve::job_days(&args.window)?;
    history.check_window(days, "--since/--interval")?;
    let missing = if session.format == Format::Openmetrics {
        let mut backfill = Backfill::default();
        let missing = history
            .rows(days, &Column::ALL, |row| {
                backfill.add(&row.to_model()).map_err(Failure::Malformed)
            })
            .await?;
        write_backfill(session, &backfill)?;
        missing
    } else {
        let mut sink =
            Sink::<OrganizationPublicApiUsage>::new(session.format, session.csv, session.out()?)
                .map_err(Failure::output)?;
        let missing = history
            .rows(days, &Column::ALL, |row| {
                sink.row(&row.to_model()).map_err(Failure::output)
            })
            .await?;
        sink.finish().map_err(Failure::output)?;
        missing
    };
    crate::commands::report::note_missing(session, &missing);
    Ok(())
}
