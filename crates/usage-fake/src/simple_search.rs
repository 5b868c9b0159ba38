//! Simple search: submitted like an organization query, polled until `Complete`, then read
//! in pages joined by `cursors.after` (`pageSize` 1 to 1000, default 100). Its `metrics`
//! name the columns: `Date` splits the rows by day, `ClientName`, `HttpMethod` and
//! `TemplateUri` group them, and the `Status*` metrics pick the counters (all of them when
//! none is named; simple search has no `Requests`). At most 20,000 rows, as the service
//! caps it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use usage_models::{
    ApiUsageSimpleSearch, Granularity, Interval, SimpleSearchHttpMethod, SimpleSearchMetric,
};

use crate::data::{self, Cut, Dim, Filters};
use crate::errors::parse_body;
use crate::errors::{Refusal, refuse_unlisted};
use crate::faults::serve;
use crate::paging::{cursor, page_of, page_size};
use crate::respond::json_response;
use crate::rows;
use crate::state::{Kind, Operation, Owner, Shared, State};

/// The most rows a simple search answers.
const MAX_ROWS: usize = 20_000;

const COUNTERS: &[&str] = &[
    "Status200",
    "Status300",
    "Status400",
    "Status500",
    "Status429",
];

fn validate(query: &ApiUsageSimpleSearch) -> Result<(Cut, Vec<String>), Refusal> {
    let interval =
        Interval::parse(&query.interval).map_err(|_| Refusal::new(400, "invalid.date"))?;
    refuse_unlisted!("metrics", &query.metrics, SimpleSearchMetric);
    refuse_unlisted!("httpMethods", &query.http_methods, SimpleSearchHttpMethod);
    let named = |m: SimpleSearchMetric| query.metrics.contains(&m);
    let mut dims = Vec::new();
    if named(SimpleSearchMetric::ClientName) {
        dims.push(Dim::Client);
    }
    if named(SimpleSearchMetric::TemplateUri) {
        dims.push(Dim::Template);
    }
    if named(SimpleSearchMetric::HttpMethod) {
        dims.push(Dim::Method);
    }
    let counters: Vec<String> = query
        .metrics
        .iter()
        .map(|m| m.as_str())
        .filter(|m| COUNTERS.contains(m))
        .map(str::to_string)
        .collect();
    // No counter named: every counter except `requests`, which simple search lacks.
    let metrics = if counters.is_empty() {
        COUNTERS.iter().map(|m| (*m).to_string()).collect()
    } else {
        counters
    };
    let (first, last) = data::query_days(&interval);
    let cut = Cut {
        client: None,
        dims,
        granularity: named(SimpleSearchMetric::Date).then_some(Granularity::Day),
        first,
        last,
        filters: Filters {
            oauth_client_names: query.oauth_client_names.clone(),
            http_methods: query
                .http_methods
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            template_uris: query.template_uris.clone(),
            ..Filters::default()
        },
        sort: Vec::new(),
    };
    Ok((cut, metrics))
}

pub(crate) async fn post(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostUsageSimplesearch,
        &headers,
        || match parse_body::<ApiUsageSimpleSearch>(&body).and_then(|q| validate(&q)) {
            Ok((cut, metrics)) => {
                let id = state.submit_capped(
                    Owner::Organization,
                    Kind::SimpleSearch,
                    &cut,
                    metrics,
                    MAX_ROWS,
                );
                let body = json!({
                    "executionId": id,
                    "resultsUri": format!("/api/v2/usage/simplesearch/{id}/results"),
                });
                json_response(&state, 202, body.to_string().into_bytes())
            }
            Err(refused) => refused.render(&state),
        },
    )
    .await
}

fn answer(state: &State, execution_id: &str, params: &HashMap<String, String>) -> Response {
    let size = match page_size(params) {
        Ok(size) => size,
        Err(refused) => return refused.render(state),
    };
    let unfinished = |_: &_, ended| {
        let status: &[u8] = if ended {
            br#"{"queryStatus":"Failed"}"#
        } else {
            br#"{"queryStatus":"Running"}"#
        };
        json_response(state, 200, status.to_vec())
    };
    let page = page_of(
        state,
        &Owner::Organization,
        execution_id,
        Kind::SimpleSearch,
        params,
        unfinished,
    );
    let (search, offset) = match page {
        Ok(page) => page,
        Err(answer) => return *answer,
    };
    let next = offset + size;
    let after = (next < search.rows.len()).then(|| cursor(search.seed, next));
    json_response(
        state,
        200,
        rows::simple_search_page_body(&search, offset, size, after),
    )
}

pub(crate) async fn results(
    Extract(state): Extract<Shared>,
    Path(execution_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(
        &state,
        Operation::GetUsageSimplesearchExecutionIdResults,
        &headers,
        || answer(&state, &execution_id, &params),
    )
    .await
}
