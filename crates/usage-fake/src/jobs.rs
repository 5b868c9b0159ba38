//! The aggregates query jobs: submitted like a query, answered `Queued`, then `Running`,
//! then `Succeeded` with pages of rows (`pageSize` 1 to 1000, default 100) joined by opaque
//! cursors, `nextUri` only while another page exists. The filters, `groupBy`, `metrics`
//! and `sortBy` shape the rows; a client's job sees only that client's rows; an unknown
//! client is a 404.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use usage_models::{
    ClientJobGroupBy, ClientPublicApiUsageQueryRequest, Granularity, HttpMethod, Interval,
    JobMetric, OrganizationJobGroupBy, OrganizationPublicApiUsageQueryRequest, SortOrder,
    UsageQuerySortBy,
};

use crate::data::{self, Cut, Dim, Filters, SortField};
use crate::errors::{Refusal, refuse_unlisted};
use crate::errors::{parse_body, unknown_client};
use crate::faults::serve;
use crate::paging::{cursor, page_of, page_size};
use crate::respond::json_response;
use crate::state::{Kind, Operation, Outcome, Owner, Shared, State};

/// What a job body asks for, once validated.
struct JobQuery {
    metrics: Vec<String>,
    cut: Cut,
}

/// The parts of the organization and client job bodies that are judged alike.
struct Body<'a> {
    interval: &'a str,
    granularity: Option<&'a Granularity>,
    metrics: &'a [JobMetric],
    group_by: Vec<&'a str>,
    listed: &'a [&'a str],
    http_methods: &'a [HttpMethod],
    sort_by: &'a [UsageQuerySortBy],
    filters: Filters,
}

/// The dimension of the rows that a job's groupBy value stands for.
fn dimension(value: &str) -> Option<Dim> {
    Some(match value {
        "OauthClientId" | "OauthClientName" => Dim::Client,
        "OrganizationId" => Dim::Organization,
        "UserId" => Dim::User,
        "TemplateUri" => Dim::Template,
        "HttpMethod" => Dim::Method,
        "Platform" => Dim::Platform,
        _ => return None,
    })
}

fn validate(body: Body<'_>) -> Result<JobQuery, Refusal> {
    let interval =
        Interval::parse_job(body.interval).map_err(|_| Refusal::new(400, "invalid.date"))?;
    // Upstream: "Start date cannot be more than a year ago. End date cannot be more than 90
    // days after the start."
    if interval.end - interval.start > chrono::Duration::days(90) {
        return Err(Refusal::constraint(
            "End date cannot be more than 90 days after the start.",
        ));
    }
    if interval.start < chrono::Utc::now() - chrono::Duration::days(366) {
        return Err(Refusal::constraint(
            "Start date cannot be more than a year ago.",
        ));
    }
    refuse_unlisted!("granularity", body.granularity, Granularity);
    refuse_unlisted!("metrics", body.metrics, JobMetric);
    if let Some(g) = body.group_by.iter().find(|g| !body.listed.contains(g)) {
        return Err(Refusal::invalid_value("groupBy", g, body.listed));
    }
    refuse_unlisted!("httpMethods", body.http_methods, HttpMethod);
    let mut sort = Vec::new();
    for s in body.sort_by {
        let name = s.field_name.as_deref().unwrap_or_default();
        let field = SortField::parse(name).ok_or_else(|| {
            Refusal::new(400, "invalid.property")
                .param("value", name)
                .param("object", "UsageQuerySortBy")
        })?;
        let descending = match &s.order {
            None | Some(SortOrder::Asc) => false,
            Some(SortOrder::Desc) => true,
            Some(other) => {
                return Err(Refusal::invalid_value(
                    "order",
                    other.as_str(),
                    SortOrder::VALUES,
                ));
            }
        };
        sort.push((field, descending));
    }
    let mut dims: Vec<Dim> = body.group_by.iter().filter_map(|g| dimension(g)).collect();
    dims.dedup();
    let (first, last) = data::job_days(&interval);
    Ok(JobQuery {
        metrics: body
            .metrics
            .iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        cut: Cut {
            client: None,
            dims,
            granularity: body.granularity.cloned(),
            first,
            last,
            filters: Filters {
                http_methods: body
                    .http_methods
                    .iter()
                    .map(|m| m.as_str().to_string())
                    .collect(),
                ..body.filters
            },
            sort,
        },
    })
}

fn submitted(state: &State, owner: Owner, mut query: JobQuery) -> Response {
    if let Owner::Client(client) = &owner {
        query.cut.client = Some(client.clone());
    }
    let id = state.submit(owner.clone(), Kind::Job, &query.cut, query.metrics);
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
    if let Owner::Client(id) = &owner
        && data::known_client(id).is_none()
    {
        return unknown_client(state);
    }
    let (job, offset) = match page_of(state, &owner, job_id, Kind::Job, params, |job, ended| {
        let body = if !ended {
            let status = if job.polls <= 1 { "Queued" } else { "Running" };
            json!({"queryStatus": status, "selfUri": job_path(&owner, job_id)})
        } else if job.outcome == Outcome::Cancelled {
            json!({"queryStatus": "Cancelled"})
        } else {
            json!({
                "queryStatus": "Failed",
                "errorBody": Refusal::new(500, "internal.server.error").body(""),
            })
        };
        json_response(state, 200, body.to_string().into_bytes())
    }) {
        Ok(page) => page,
        Err(answer) => return *answer,
    };
    let next = offset + size;
    let next_uri = (next < job.rows.len()).then(|| {
        format!(
            "{}?pageSize={size}&after={}",
            job_path(&owner, job_id),
            cursor(job.seed, next)
        )
    });
    json_response(
        state,
        200,
        crate::rows::job_page_body(&job, offset, size, next_uri),
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
                validate(Body {
                    interval: &q.interval,
                    granularity: q.granularity.as_ref(),
                    metrics: &q.metrics,
                    group_by: q.group_by.iter().map(|g| g.as_str()).collect(),
                    listed: OrganizationJobGroupBy::VALUES,
                    http_methods: &q.http_methods,
                    sort_by: &q.sort_by,
                    filters: Filters {
                        template_uris: q.template_uris.clone(),
                        platforms: q.platforms.clone(),
                        user_ids: q.user_ids.clone(),
                        oauth_client_ids: q.oauth_client_ids.clone(),
                        ..Filters::default()
                    },
                })
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
            if data::known_client(&client_id).is_none() {
                return unknown_client(&state);
            }
            let query = parse_body::<ClientPublicApiUsageQueryRequest>(&body).and_then(|q| {
                validate(Body {
                    interval: &q.interval,
                    granularity: q.granularity.as_ref(),
                    metrics: &q.metrics,
                    group_by: q.group_by.iter().map(|g| g.as_str()).collect(),
                    listed: ClientJobGroupBy::VALUES,
                    http_methods: &q.http_methods,
                    sort_by: &q.sort_by,
                    filters: Filters {
                        template_uris: q.template_uris.clone(),
                        platforms: q.platforms.clone(),
                        organization_ids: q.organization_ids.clone(),
                        ..Filters::default()
                    },
                })
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
