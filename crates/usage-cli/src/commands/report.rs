//! `report`: per OAuth client, its requests and 429s and the endpoints that got the most,
//! from aggregates query jobs (one per 90 days of the window) or one usage query.

use std::io::Write;

use serde_json::json;
use usage_ext::models::{ApiUsageOrganizationQuery, Metric, OrganizationGroupBy};

use crate::cli::{Api, ReportArgs};
use crate::exit::Failure;
use crate::session::Session;
use crate::{resolve, tally, windowed};

pub async fn exec(session: &Session, args: &ReportArgs) -> Result<(), Failure> {
    let interval = resolve::interval(&args.window)?;
    let mut tally = tally::Tally::default();
    let api = match args.api {
        Api::Query => {
            let query = ApiUsageOrganizationQuery::new(interval.clone())
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
            "usage query"
        }
        Api::Jobs => {
            let windows = resolve::job_windows(&args.window)?;
            let request = resolve::job_request(json!({
                "interval": windows[0].interval(),
                "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"],
                "metrics": ["Requests", "Status429"],
            }))?;
            let jobs = windowed::start(
                session,
                &session.queries,
                &request,
                windows,
                args.concurrency.get(),
            );
            windowed::each_row(session, jobs, |row| {
                let client = row.oauth_client.as_ref();
                tally.add(
                    client.and_then(|c| c.id.as_deref()).unwrap_or_default(),
                    client.and_then(|c| c.name.as_deref()).unwrap_or_default(),
                    row.http_method
                        .as_ref()
                        .map(|m| m.as_str())
                        .unwrap_or_default(),
                    row.template_uri.as_deref().unwrap_or_default(),
                    row.request_count.unwrap_or(0),
                    row.status429.unwrap_or(0),
                );
                Ok(())
            })
            .await?;
            "aggregates query jobs"
        }
    };
    let clients = tally.finish(args.top);
    let heading = format!("Usage by OAuth client, {interval} ({api}), by 429s then requests");
    let mut out = session.out()?;
    tally::write(&mut out, session.format, &heading, &clients)?;
    out.flush()?;
    Ok(())
}
