//! A long interval's aggregates query jobs, one per window, with their progress: the
//! submissions noted on stderr, the polls on the spinner, and the id to resume when there
//! is only one job.

use std::sync::Arc;

use usage_ext::models::{OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest};
use usage_ext::{DayWindow, UsageQueries, WindowEvent, WindowJobs};

use crate::session::Session;

/// Starts the windows' jobs, `concurrency` at a time.
pub fn start(
    session: &Session,
    queries: &UsageQueries,
    request: &OrganizationPublicApiUsageQueryRequest,
    windows: Vec<DayWindow>,
    concurrency: usize,
) -> WindowJobs {
    let total = windows.len();
    let progress = session.progress.clone();
    let pending = session.pending.clone();
    let demo = session.demo;
    let on_event = Arc::new(move |event: WindowEvent<'_>| match event {
        WindowEvent::Submitted { window, job } => {
            if total == 1 {
                let resume = if demo {
                    format!(
                        "{} (--demo: the fake stopped with the process; run again)",
                        job.job_id
                    )
                } else {
                    format!("genesys-usage resume {}", job.job_id)
                };
                *pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
                progress.note(&format!("Submitted aggregates query job {}", job.job_id));
            } else {
                progress.note(&format!(
                    "Submitted aggregates query job {} for {window}",
                    job.job_id
                ));
            }
        }
        WindowEvent::Polled { window, event } => {
            if total == 1 {
                progress.poll(event);
            } else {
                progress.status(&format!("{total} windows · {window}: poll {}", event.poll));
            }
        }
        _ => {}
    });
    queries.aggregate_windows(request, windows, concurrency, on_event)
}

/// The rows of each window in order, to `each`, with the paging shown on the spinner;
/// returns the rows seen.
pub async fn each_row(
    session: &Session,
    mut jobs: WindowJobs,
    mut each: impl FnMut(OrganizationPublicApiUsage) -> Result<(), crate::exit::Failure>,
) -> Result<u64, crate::exit::Failure> {
    let mut rows = 0u64;
    while let Some((_window, pages)) = jobs.next().await {
        let mut pages = pages?;
        while let Some(page) = pages.next_page().await {
            for row in page? {
                each(row)?;
                rows += 1;
            }
            session.progress.status(&format!("paging · {rows} rows"));
        }
    }
    session.done();
    Ok(rows)
}
