//! The HTTP surface: `/oauth/token` and the five query operations, with faults applied;
//! the jobs and simple search have modules of their own.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use usage_models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, Granularity, Interval, Metric,
    OrganizationGroupBy,
};

use crate::data::{self, Cut, Dim, Filters};
use crate::errors::{Refusal, parse_body, refuse_unlisted, unknown_client};
use crate::faults::serve;
use crate::respond::json_response;
use crate::state::{Kind, Operation, Outcome, Owner, Shared, State};
use crate::{jobs, limits, rows, simple_search};

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/usage/query", post(post_usage_query))
        .route(
            "/api/v2/usage/query/{execution_id}/results",
            get(get_usage_query_execution_id_results),
        )
        .route(
            "/api/v2/oauth/clients/{client_id}/usage/query",
            post(post_oauth_client_usage_query),
        )
        .route(
            "/api/v2/oauth/clients/{client_id}/usage/query/results/{execution_id}",
            get(get_oauth_client_usage_query_result),
        )
        .route(
            "/api/v2/oauth/clients/{client_id}/usage/summary",
            get(get_oauth_client_usage_summary),
        )
        .route("/api/v2/usage/aggregates/query/jobs", post(jobs::post_jobs))
        .route(
            "/api/v2/usage/aggregates/query/jobs/{job_id}",
            get(jobs::get_job),
        )
        .route(
            "/api/v2/usage/client/{client_id}/aggregates/query/jobs",
            post(jobs::post_client_jobs),
        )
        .route(
            "/api/v2/usage/client/{client_id}/aggregates/query/jobs/{job_id}",
            get(jobs::get_client_job),
        )
        .route("/api/v2/usage/simplesearch", post(simple_search::post))
        .route(
            "/api/v2/usage/simplesearch/{execution_id}/results",
            get(simple_search::results),
        )
        .route(
            "/api/v2/analytics/ratelimits/aggregates/query",
            post(limits::rate_limit_aggregates),
        )
        .route(
            "/api/v2/organizations/limits/namespaces",
            get(limits::namespaces),
        )
        .route(
            "/api/v2/organizations/limits/namespaces/{namespace_name}",
            get(limits::namespace),
        )
        .route(
            "/api/v2/organizations/limits/namespaces/{namespace_name}/defaults",
            get(limits::namespace_defaults),
        )
        .route("/api/v2/organizations/limits/docs", get(limits::docs))
        .route(
            "/api/v2/organizations/limits/changerequests",
            get(limits::change_requests),
        )
        .route(
            "/api/v2/organizations/limits/changerequests/{request_id}",
            get(limits::change_request),
        )
        .route(
            "/api/v2/usage/events/definitions",
            get(limits::event_definitions),
        )
        .route(
            "/api/v2/usage/events/definitions/{event_definition_id}",
            get(limits::event_definition),
        )
        .route("/api/v2/usage/events/query", post(limits::events_query))
        .route(
            "/api/v2/usage/events/aggregates/query",
            post(limits::events_aggregates),
        )
        .fallback(
            |Extract(state): Extract<Shared>| async move { Refusal::not_found().render(&state) },
        )
        .with_state(state)
}

async fn token(Extract(state): Extract<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    serve(&state, Operation::Token, &headers, || {
        let expected = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            state.config.client_id, state.config.client_secret
        ));
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "));
        let oauth_error = |status: u16, error: &str, description: &str| {
            json_response(
                &state,
                status,
                json!({"error": error, "error_description": description})
                    .to_string()
                    .into_bytes(),
            )
        };
        if given != Some(expected.as_str()) {
            return oauth_error(401, "invalid_client", "client id or secret is not valid");
        }
        let form = String::from_utf8_lossy(&body);
        if !form
            .split('&')
            .any(|kv| kv == "grant_type=client_credentials")
        {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "use grant_type=client_credentials",
            );
        }
        let body = json!({
            "access_token": state.issue_token(),
            "token_type": "bearer",
            "expires_in": state.config.token_lifetime.as_secs(),
        });
        json_response(&state, 200, body.to_string().into_bytes())
    })
    .await
}

/// What a query body asks for, once validated as the service would.
struct Submitted {
    cut: Cut,
    metrics: Vec<String>,
}

/// The dimension an old query's groupBy value stands for.
fn dimension(g: &OrganizationGroupBy) -> Dim {
    match g {
        OrganizationGroupBy::OAuthClientId => Dim::Client,
        OrganizationGroupBy::OrganizationId => Dim::Organization,
        OrganizationGroupBy::UserId => Dim::User,
        OrganizationGroupBy::TemplateUri => Dim::Template,
        _ => Dim::Method,
    }
}

/// The two query bodies share one shape; the fake judges both the same way.
trait QueryBody: serde::de::DeserializeOwned {
    /// The groupBy values this body lists.
    const GROUP_BY: &'static [&'static str];
    fn interval(&self) -> &str;
    fn granularity(&self) -> Option<&Granularity>;
    fn metrics(&self) -> &[Metric];
    fn group_by(&self) -> Vec<&str>;
}

macro_rules! query_body {
    ($query:ty, $group_by:ty) => {
        impl QueryBody for $query {
            const GROUP_BY: &'static [&'static str] = <$group_by>::VALUES;
            fn interval(&self) -> &str {
                &self.interval
            }
            fn granularity(&self) -> Option<&Granularity> {
                self.granularity.as_ref()
            }
            fn metrics(&self) -> &[Metric] {
                &self.metrics
            }
            fn group_by(&self) -> Vec<&str> {
                self.group_by.iter().map(|g| g.as_str()).collect()
            }
        }
    };
}

query_body!(ApiUsageOrganizationQuery, OrganizationGroupBy);
query_body!(ApiUsageClientQuery, usage_models::ClientGroupBy);

/// Validates a query body as the service does: JSON content type, a well-formed body, an
/// ISO-8601 interval, and only listed enum values.
fn validate<Q: QueryBody>(headers: &HeaderMap, body: &[u8]) -> Result<Submitted, Refusal> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err(Refusal::new(415, "unsupported.media.type"));
    }
    let query: Q = parse_body(body)?;
    let interval =
        Interval::parse(query.interval()).map_err(|_| Refusal::new(400, "invalid.date"))?;
    refuse_unlisted!("granularity", query.granularity(), Granularity);
    refuse_unlisted!("metrics", query.metrics(), Metric);
    let group_by = query.group_by();
    if let Some(g) = group_by.iter().find(|g| !Q::GROUP_BY.contains(g)) {
        return Err(Refusal::invalid_value("groupBy", g, Q::GROUP_BY));
    }
    let (first, last) = data::query_days(&interval);
    let mut dims: Vec<Dim> = group_by
        .into_iter()
        .map(|g| dimension(&OrganizationGroupBy::from(g)))
        .collect();
    dims.dedup();
    Ok(Submitted {
        metrics: query
            .metrics()
            .iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        cut: Cut {
            client: None,
            dims,
            granularity: query.granularity().cloned(),
            first,
            last,
            filters: Filters::default(),
            sort: Vec::new(),
        },
    })
}

fn submitted(state: &State, owner: Owner, mut query: Submitted) -> Response {
    if let Owner::Client(client) = &owner {
        query.cut.client = Some(client.clone());
    }
    let id = state.submit(owner.clone(), Kind::Query, &query.cut, query.metrics);
    let results_uri = match owner {
        Owner::Organization => format!("/api/v2/usage/query/{id}/results"),
        Owner::Client(client) => {
            format!("/api/v2/oauth/clients/{client}/usage/query/results/{id}")
        }
    };
    let body = json!({"executionId": id, "resultsUri": results_uri});
    json_response(state, 202, body.to_string().into_bytes())
}

async fn post_usage_query(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostUsageQuery,
        &headers,
        || match validate::<ApiUsageOrganizationQuery>(&headers, &body) {
            Ok(query) => submitted(&state, Owner::Organization, query),
            Err(refused) => refused.render(&state),
        },
    )
    .await
}

async fn post_oauth_client_usage_query(
    Extract(state): Extract<Shared>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostOauthClientUsageQuery,
        &headers,
        || {
            if data::known_client(&client_id).is_none() {
                return unknown_client(&state);
            }
            match validate::<ApiUsageClientQuery>(&headers, &body) {
                Ok(query) => submitted(&state, Owner::Client(client_id), query),
                Err(refused) => refused.render(&state),
            }
        },
    )
    .await
}

async fn get_oauth_client_usage_summary(
    Extract(state): Extract<Shared>,
    Path(client_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetOauthClientUsageSummary,
        &headers,
        || {
            if data::known_client(&client_id).is_none() {
                return unknown_client(&state);
            }
            let days = match query.get("days").map(|d| (d, d.parse::<u32>())) {
                None => 7,
                Some((_, Ok(d))) if (1..=MAX_SUMMARY_DAYS).contains(&d) => d,
                Some((text, _)) => {
                    return Refusal::invalid_param(
                        "days",
                        text,
                        &format!("1 to {MAX_SUMMARY_DAYS}"),
                    )
                    .render(&state);
                }
            };
            // The last `days` days, today included (which has no data yet: the service's
            // data lags about a day); daily buckets at midnight UTC.
            let today = chrono::Utc::now().date_naive();
            let first = today
                .checked_sub_days(chrono::Days::new(u64::from(days - 1)))
                .unwrap_or(today);
            submitted(
                &state,
                Owner::Client(client_id),
                Submitted {
                    metrics: Vec::new(),
                    cut: Cut {
                        client: None,
                        dims: vec![Dim::Template, Dim::Method],
                        granularity: Some(Granularity::Day),
                        first,
                        last: today,
                        filters: Filters::default(),
                        sort: Vec::new(),
                    },
                },
            )
        },
    )
    .await
}

/// The most days a summary looks back. Upstream documents no bound (`days` is a string,
/// default `"7"`); the fake refuses more than a year, as the jobs' interval rule does.
const MAX_SUMMARY_DAYS: u32 = 365;

fn results(state: &State, execution_id: &str, owner: Owner) -> Response {
    match state.poll(execution_id, &owner, Kind::Query) {
        None => Refusal::not_found().render(state),
        Some((_, false)) => json_response(state, 200, br#"{"queryStatus":"Running"}"#.to_vec()),
        Some((execution, true)) => match execution.outcome {
            Outcome::Complete => json_response(state, 200, rows::complete_body(&execution)),
            Outcome::Failed | Outcome::Cancelled => {
                json_response(state, 200, br#"{"queryStatus":"Failed"}"#.to_vec())
            }
        },
    }
}

async fn get_usage_query_execution_id_results(
    Extract(state): Extract<Shared>,
    Path(execution_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetUsageQueryExecutionIdResults,
        &headers,
        || results(&state, &execution_id, Owner::Organization),
    )
    .await
}

async fn get_oauth_client_usage_query_result(
    Extract(state): Extract<Shared>,
    Path((client_id, execution_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetOauthClientUsageQueryResult,
        &headers,
        || results(&state, &execution_id, Owner::Client(client_id)),
    )
    .await
}
