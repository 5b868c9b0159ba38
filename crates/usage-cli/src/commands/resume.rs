//! `resume ID`: wait again for a usage query or an aggregates query job submitted earlier.

use usage_ext::{Execution, Job};

use crate::exit::Failure;
use crate::session::Session;
use crate::source::api::Api;

/// The query or job to wait for again.
pub struct Plan {
    pub id: String,
    pub client: Option<String>,
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let (id, client) = (plan.id.as_str(), plan.client.as_deref());
    let not_found = |e: &usage_ext::Error| match e {
        usage_ext::Error::Poll { source, .. } => source.status() == Some(404),
        _ => false,
    };
    api.submitted("(resumed)", id, client);
    let execution = match client {
        Some(c) => Execution::client(c, id),
        None => Execution::organization(id),
    };
    match execution.wait_with(api.queries(), |e| api.polled(e)).await {
        Ok(result) => {
            api.done();
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
                .wait_with(api.queries(), |e| api.polled(e))
                .await
                .map_err(job_missing)?;
            session.job_pages(api, pages).await
        }
        None => {
            let pages = Job::organization(id)
                .wait_with(api.queries(), |e| api.polled(e))
                .await
                .map_err(job_missing)?;
            session.job_pages(api, pages).await
        }
    }
}
