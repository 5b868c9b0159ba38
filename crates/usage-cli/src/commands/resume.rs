//! `resume ID`: wait again for a usage query or an aggregates query job submitted earlier.

use usage_ext::{Execution, Job};

use crate::commands::jobs::print_pages;
use crate::exit::Failure;
use crate::session::Session;

pub async fn exec(session: &Session, id: &str, client: Option<&str>) -> Result<(), Failure> {
    let not_found = |e: &usage_ext::Error| match e {
        usage_ext::Error::Poll { source, .. } => source.status() == Some(404),
        _ => false,
    };
    session.submitted("(resumed)", id, client);
    let execution = match client {
        Some(c) => Execution::client(c, id),
        None => Execution::organization(id),
    };
    match execution
        .wait_with(&session.queries, |e| session.progress.poll(e))
        .await
    {
        Ok(result) => {
            session.done();
            return session.rows(&result.results);
        }
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    // Not a query the service knows: an aggregates query job, then.
    let job_missing = |e: usage_ext::Error| {
        if not_found(&e) {
            Failure::Malformed(format!(
                "the service knows no usage query or aggregates query job {id}{} (results expire; submit the query again)",
                client
                    .map(|c| format!(" of OAuth client {c}"))
                    .unwrap_or_default()
            ))
        } else {
            e.into()
        }
    };
    match client {
        Some(c) => {
            let pages = Job::client(c, id)
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await
                .map_err(job_missing)?;
            print_pages(session, pages).await
        }
        None => {
            let pages = Job::organization(id)
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await
                .map_err(job_missing)?;
            print_pages(session, pages).await
        }
    }
}
