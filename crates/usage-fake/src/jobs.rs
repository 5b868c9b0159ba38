//! The aggregates query jobs: submitted like a query, answered `Queued`, then `Running`,
//! then `Succeeded` with pages of rows (`pageSize` 1 to 1000, default 100) joined by opaque
//! cursors, `nextUri` only while another page exists. A client's job sees only that
//! client's rows; an unknown client is a 404.
//!
//! Not yet like the service: the filters (templateUris, httpMethods, platforms, userIds,
//! oauthClientIds) and `sortBy` are validated but do not shape the rows.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use usage_models::{
    ClientJobGroupBy, ClientPublicApiUsageQueryRequest, Granularity, Interval, JobMetric,
    OrganizationGroupBy, OrganizationJobGroupBy, OrganizationPublicApiUsageQueryRequest,
};

use crate::ids;
use crate::routes::{
    Refusal, Shared, error, invalid_value, json_response, parse_body, serve, unknown_client,
};
use crate::rows;
use crate::state::{Operation, Outcome, Owner, State};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// What a job body asks for, once validated.
struct JobQuery {
    metrics: Vec<String>,
    granularity: Option<Granularity>,
    group_by: Vec<OrganizationGroupBy>,
    start: chrono::DateTime<chrono::Utc>,
}

/// The dimension of a query's rows that a job's groupBy value stands for (`Platform` has
/// none in the fake's rows).
fn dimension(value: &str) -> Option<OrganizationGroupBy> {
    Some(match value {
        "OauthClientId" | "OauthClientName" => OrganizationGroupBy::OAuthClientId,
        "OrganizationId" => OrganizationGroupBy::OrganizationId,
        "UserId" => OrganizationGroupBy::UserId,
        "TemplateUri" => OrganizationGroupBy::TemplateUri,
        "HttpMethod" => OrganizationGroupBy::HttpMethod,
        _ => return None,
    })
}

fn validate(
    interval: &str,
    granularity: Option<&Granularity>,
    metrics: &[JobMetric],
    group_by: &[&str],
    listed: &[&str],
) -> Result<JobQuery, Refusal> {
    let interval =
        Interval::parse(interval).map_err(|e| Refusal::new(400, "invalid.date", e.to_string()))?;
    // Upstream: "Start date cannot be more than a year ago. End date cannot be more than 90
    // days after the start."
    if interval.end - interval.start > chrono::Duration::days(90) {
        return Err(Refusal::new(
            400,
            "constraint.validation",
            "End date cannot be more than 90 days after the start.",
        ));
    }
    if interval.start < chrono::Utc::now() - chrono::Duration::days(366) {
        return Err(Refusal::new(
            400,
            "constraint.validation",
            "Start date cannot be more than a year ago.",
        ));
    }
    if let Some(g) = granularity.filter(|g| g.is_unknown()) {
        return Err(invalid_value(
            "granularity",
            g.as_str(),
            Granularity::VALUES,
        ));
    }
    if let Some(m) = metrics.iter().find(|m| m.is_unknown()) {
        return Err(invalid_value("metrics", m.as_str(), JobMetric::VALUES));
    }
    if let Some(g) = group_by.iter().find(|g| !listed.contains(g)) {
        return Err(invalid_value("groupBy", g, listed));
    }
    let mut dimensions: Vec<OrganizationGroupBy> =
        group_by.iter().filter_map(|g| dimension(g)).collect();
    dimensions.dedup();
    Ok(JobQuery {
        metrics: metrics.iter().map(|m| m.as_str().to_string()).collect(),
        granularity: granularity.cloned(),
        group_by: dimensions,
        start: interval.start,
    })
}

fn submitted(state: &State, owner: Owner, query: JobQuery) -> Response {
    let id = state.submit(
        owner.clone(),
        query.granularity,
        query.group_by,
        query.start,
        true,
        query.metrics,
    );
    let results_uri = job_path(&owner, &id);
    let body = json!({"id": id, "resultsUri": results_uri, "selfUri": results_uri});
    json_response(state, 202, body.to_string().into_bytes())
}

fn job_path(owner: &Owner, id: &str) -> String {
    match owner {
        Owner::Organization => format!("/api/v2/usage/aggregates/query/jobs/{id}"),
        Owner::Client(client) => {
            format!("/api/v2/usage/client/{client}/aggregates/query/jobs/{id}")
        }
    }
}

/// An opaque cursor: the offset and a check of it under the job's seed, so a cursor of
/// another job or an edited one is refused.
fn cursor(seed: u64, offset: usize) -> String {
    format!("{offset:x}.{:08x}", ids::mix(seed ^ offset as u64) as u32)
}

fn offset_of(seed: u64, cursor_text: &str) -> Option<usize> {
    let (offset, _) = cursor_text.split_once('.')?;
    let offset = usize::from_str_radix(offset, 16).ok()?;
    (cursor(seed, offset) == cursor_text).then_some(offset)
}

fn page_size(params: &HashMap<String, String>) -> Result<usize, Refusal> {
    match params.get("pageSize") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                Refusal::new(
                    400,
                    "invalid.query.param.value",
                    format!(
                        "Value [{text}] is not valid for parameter [pageSize]. Allowable values are: 1 to {MAX_PAGE_SIZE}"
                    ),
                )
            }),
    }
}

fn job_answer(
    state: &State,
    owner: Owner,
    job_id: &str,
    params: &HashMap<String, String>,
) -> Response {
    let size = match page_size(params) {
        Ok(size) => size,
        Err(refused) => return refused.render(state),
    };
    let client = match &owner {
        Owner::Organization => None,
        Owner::Client(id) => match rows::known_client(id) {
            Some(client) => Some(client),
            None => return unknown_client(state),
        },
    };
    let not_found = || {
        error(
            state,
            404,
            "not.found",
            &format!("No aggregates query job {job_id} is known."),
        )
    };
    let (job, offset) = match params.get("after") {
        // A page after the first: the job is done by then; asking is not a poll.
        Some(after) => {
            let Some(job) = state
                .execution(job_id)
                .filter(|j| j.job && j.owner == owner)
            else {
                return not_found();
            };
            match offset_of(job.seed, after) {
                Some(offset) if offset < job.rows => (job, offset),
                _ => {
                    return error(
                        state,
                        400,
                        "invalid.query.param.value",
                        &format!("Value [{after}] is not valid for parameter [after]."),
                    );
                }
            }
        }
        None => match state.poll(job_id, &owner, true) {
            None => return not_found(),
            Some((job, false)) => {
                let status = if job.polls <= 1 { "Queued" } else { "Running" };
                let body = json!({"queryStatus": status, "selfUri": job_path(&owner, job_id)});
                return json_response(state, 200, body.to_string().into_bytes());
            }
            Some((job, true)) if job.outcome == Outcome::Failed => {
                let body = json!({
                    "queryStatus": "Failed",
                    "errorBody": {"status": 500, "code": "internal.server.error", "message": "The usage query failed."},
                });
                return json_response(state, 200, body.to_string().into_bytes());
            }
            Some((job, true)) => (job, 0),
        },
    };
    let next = offset + size;
    let next_uri = (next < job.rows).then(|| {
        format!(
            "{}?pageSize={size}&after={}",
            job_path(&owner, job_id),
            cursor(job.seed, next)
        )
    });
    json_response(
        state,
        200,
        rows::job_page_body(&job, client, offset, size, next_uri),
    )
}

pub(crate) async fn post_jobs(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostUsageAggregatesQueryJobs,
        &headers,
        || {
            let query = parse_body::<OrganizationPublicApiUsageQueryRequest>(&body).and_then(|q| {
                let group_by: Vec<&str> = q.group_by.iter().map(|g| g.as_str()).collect();
                validate(
                    &q.interval,
                    q.granularity.as_ref(),
                    &q.metrics,
                    &group_by,
                    OrganizationJobGroupBy::VALUES,
                )
            });
            match query {
                Ok(query) => submitted(&state, Owner::Organization, query),
                Err(refused) => refused.render(&state),
            }
        },
    )
    .await
}

pub(crate) async fn post_client_jobs(
    Extract(state): Extract<Shared>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostUsageClientClientIdAggregatesQueryJobs,
        &headers,
        || {
            if rows::known_client(&client_id).is_none() {
                return unknown_client(&state);
            }
            let query = parse_body::<ClientPublicApiUsageQueryRequest>(&body).and_then(|q| {
                let group_by: Vec<&str> = q.group_by.iter().map(|g| g.as_str()).collect();
                validate(
                    &q.interval,
                    q.granularity.as_ref(),
                    &q.metrics,
                    &group_by,
                    ClientJobGroupBy::VALUES,
                )
            });
            match query {
                Ok(query) => submitted(&state, Owner::Client(client_id), query),
                Err(refused) => refused.render(&state),
            }
        },
    )
    .await
}

pub(crate) async fn get_job(
    Extract(state): Extract<Shared>,
    Path(job_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetUsageAggregatesQueryJob,
        &headers,
        || job_answer(&state, Owner::Organization, &job_id, &params),
    )
    .await
}

pub(crate) async fn get_client_job(
    Extract(state): Extract<Shared>,
    Path((client_id, job_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetUsageClientClientIdAggregatesQueryJob,
        &headers,
        || job_answer(&state, Owner::Client(client_id), &job_id, &params),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::{cursor, offset_of};

    #[test]
    fn cursors_round_trip_and_refuse_edits() {
        let c = cursor(42, 1000);
        assert_eq!(offset_of(42, &c), Some(1000));
        assert_eq!(offset_of(43, &c), None, "another job's cursor");
        assert_eq!(offset_of(42, "3e8.00000000"), None);
        assert_eq!(offset_of(42, "bogus"), None);
    }
}
