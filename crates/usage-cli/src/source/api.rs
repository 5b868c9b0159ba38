//! A long interval's aggregates query jobs, one per window, with their progress: the
//! submissions noted on stderr, the polls on the spinner, and the id to resume when there
//! is only one job.

use std::sync::Arc;

use usage_ext::models::{OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest};
use usage_ext::{DayWindow, PollEvent, UsageQueries, WindowEvent, WindowJobs};

use crate::progress::Progress;
use crate::session::{Pending, Session, resume_command};

/// What the user sees of a run of windows: each submission noted (with the id to resume
/// when there is one job only), each poll on the spinner.
#[derive(Clone)]
pub struct Observer {
    progress: Arc<Progress>,
    pending: Pending,
    demo: bool,
    total: usize,
}

impl Observer {
    pub fn new(session: &Session, total: usize) -> Self {
        Self {
            progress: session.progress.clone(),
            pending: session.pending.clone(),
            demo: session.demo,
            total,
        }
    }

    pub fn submitted(&self, window: DayWindow, job_id: &str) {
        if self.total == 1 {
            let resume = resume_command(self.demo, job_id, None);
            *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
            self.progress
                .note(&format!("Submitted aggregates query job {job_id}"));
        } else {
            self.progress.note(&format!(
                "Submitted aggregates query job {job_id} for {window}"
            ));
        }
    }

    pub fn polled(&self, _window: DayWindow, event: &PollEvent) {
        self.progress.poll(event);
    }
}

/// Starts the windows' jobs, `concurrency` at a time.
pub fn start(
    session: &Session,
    queries: &UsageQueries,
    request: &OrganizationPublicApiUsageQueryRequest,
    windows: Vec<DayWindow>,
    concurrency: usize,
) -> WindowJobs {
    let jobs = windows
        .into_iter()
        .map(|window| {
            let mut request = request.clone();
            request.interval = window.interval();
            (window, request)
        })
        .collect();
    start_jobs(session, queries, jobs, concurrency)
}

/// Starts jobs that differ in more than their window, `concurrency` at a time.
pub fn start_jobs(
    session: &Session,
    queries: &UsageQueries,
    jobs: Vec<(DayWindow, OrganizationPublicApiUsageQueryRequest)>,
    concurrency: usize,
) -> WindowJobs {
    let observer = Observer::new(session, jobs.len());
    let on_event = Arc::new(move |event: WindowEvent<'_>| match event {
        WindowEvent::Submitted { window, job } => observer.submitted(window, &job.job_id),
        WindowEvent::Polled { window, event } => observer.polled(window, event),
        _ => {}
    });
    queries.aggregate_jobs(jobs, concurrency, on_event)
}

/// The rows of each job in order, to `each` with the job's place in the order they were
/// started, and the paging shown on the spinner; returns the rows seen.
pub async fn each_row(
    session: &Session,
    mut jobs: WindowJobs,
    mut each: impl FnMut(usize, OrganizationPublicApiUsage) -> Result<(), crate::exit::Failure>,
) -> Result<u64, crate::exit::Failure> {
    let mut rows = 0u64;
    let mut index = 0;
    while let Some((_window, pages)) = jobs.next().await {
        let mut pages = pages?;
        while let Some(page) = pages.next_page().await {
            for row in page? {
                crate::source::counts::check_job_row(&row)?;
                each(index, row)?;
                rows += 1;
            }
            session.progress.status(&format!("paging · {rows} rows"));
        }
        index += 1;
    }
    session.done();
    Ok(rows)
}
