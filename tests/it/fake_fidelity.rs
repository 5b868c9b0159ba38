//! usage-fake against the service's behaviour: one row per (group key, date bucket), buckets
//! inside the interval, calendar weeks and months, no data after yesterday, the jobs'
//! filters and `sortBy`, simple search, and upstream's error templates (checked against
//! upstream's own file when `../shared` is present).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde_json::json;
use usage_client::UsageError;
use usage_client::models::{
    ApiUsageOrganizationQuery, ApiUsageQueryResult, ApiUsageRow, ErrorBody, Granularity,
    OrganizationGroupBy as G, OrganizationPublicApiUsageQueryRequest,
};
use usage_ext::{Error, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Fault, Operation, Outcome};
use usage_tests::{ManualClock, fake_client, steady_polls};

async fn start(series: usize) -> FakeService {
    FakeService::start(FakeConfig {
        rows: series,
        completion: Completion::AfterPolls(0),
        ..FakeConfig::default()
    })
    .await
    .unwrap()
}

fn queries(fake: &FakeService) -> UsageQueries {
    let client = fake_client(fake).clock(ManualClock::new()).build().unwrap();
    UsageQueries::new(client)
        .with_policy(steady_polls(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .unwrap()
}

async fn org(q: &UsageQueries, query: ApiUsageOrganizationQuery) -> Vec<ApiUsageRow> {
    q.organization_usage(&query).await.unwrap().results
}

fn requests(rows: &[ApiUsageRow]) -> i64 {
    rows.iter().map(|r| r.requests.unwrap()).sum()
}

fn dates(rows: &[ApiUsageRow]) -> BTreeSet<NaiveDate> {
    rows.iter()
        .map(|r| r.date.expect("a dated row").date_naive())
        .collect()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test]
async fn rows_are_aggregated_one_per_group_key_and_totals_agree() {
    let fake = start(usage_fake::ORG_SERIES).await;
    let q = queries(&fake);
    let interval = "2026-10-01/2026-11-01";
    let total = org(&q, ApiUsageOrganizationQuery::new(interval)).await;
    assert_eq!(total.len(), 1, "no groupBy, no granularity: one total row");
    assert_eq!(total[0].client_id.as_deref(), Some(""), "not grouped: \"\"");
    assert!(total[0].date.is_none());

    let by_client = org(
        &q,
        ApiUsageOrganizationQuery::new(interval).with_group_by([G::OAuthClientId]),
    )
    .await;
    let ids: HashSet<&str> = by_client.iter().map(|r| r.client_id()).collect();
    assert_eq!(ids.len(), by_client.len(), "a group key appears once");
    assert_eq!(by_client.len(), usage_fake::OAUTH_CLIENTS.len());
    assert_eq!(requests(&by_client), requests(&total));

    let by_endpoint = org(
        &q,
        ApiUsageOrganizationQuery::new(interval).with_group_by([G::TemplateUri, G::HttpMethod]),
    )
    .await;
    assert_eq!(
        by_endpoint.len(),
        16 + 3,
        "the integrations' 16 endpoints and 3 only the own client's usage queries call"
    );
    assert_eq!(requests(&by_endpoint), requests(&total));

    let daily = org(
        &q,
        ApiUsageOrganizationQuery::new(interval).with_granularity(Granularity::Day),
    )
    .await;
    assert_eq!(daily.len(), 31, "one total row a day");
    assert_eq!(requests(&daily), requests(&total));
    // Asked again, the same numbers: the org's data does not change between queries.
    assert_eq!(
        org(&q, ApiUsageOrganizationQuery::new(interval)).await,
        total
    );
}

#[tokio::test]
async fn buckets_lie_inside_the_interval_and_follow_the_calendar() {
    let fake = start(24).await;
    let q = queries(&fake);
    let bucketed = |interval: &str, g: Granularity| {
        let q = &q;
        let query = ApiUsageOrganizationQuery::new(interval).with_granularity(g);
        async move { org(q, query).await }
    };
    // 2026-09-01 is a Tuesday: the first week starts with the interval, the next ones on
    // Mondays; the end (09-15) is excluded.
    let weeks = bucketed("2026-09-01/2026-09-15", Granularity::Week).await;
    assert_eq!(
        dates(&weeks),
        BTreeSet::from([day("2026-09-01"), day("2026-09-07"), day("2026-09-14")])
    );
    // Calendar months, not 30 days; the first starts with the interval.
    let months = bucketed("2026-01-15/2026-04-10", Granularity::Month).await;
    assert_eq!(
        dates(&months),
        BTreeSet::from([
            day("2026-01-15"),
            day("2026-02-01"),
            day("2026-03-01"),
            day("2026-04-01")
        ])
    );
    let days = bucketed("2026-10-01/2026-11-01", Granularity::Day).await;
    assert_eq!(dates(&days).len(), 31);
    assert!(
        days.iter()
            .all(|r| r.date.unwrap().time() == chrono::NaiveTime::MIN)
    );
    // Nothing after yesterday: the service's data lags a day, and the future has none.
    let today = chrono::Utc::now().date_naive();
    let recent = bucketed(
        &format!(
            "{}/{}",
            today - chrono::Days::new(3),
            today + chrono::Days::new(3)
        ),
        Granularity::Day,
    )
    .await;
    assert_eq!(
        dates(&recent),
        (1..=3).map(|n| today - chrono::Days::new(n)).collect()
    );
    // Nor before 2018, where the service's history starts.
    let old = bucketed("2017-12-30/2018-01-03", Granularity::Day).await;
    assert_eq!(dates(&old).first(), Some(&day("2018-01-01")));
    assert!(
        months.iter().all(
            |r| r.date.unwrap().day() == 1 || r.date.unwrap().date_naive() == day("2026-01-15")
        )
    );
}

fn job(body: serde_json::Value) -> OrganizationPublicApiUsageQueryRequest {
    let mut body = body;
    body["interval"] = json!(usage_tests::recent_interval());
    serde_json::from_value(body).unwrap()
}

#[tokio::test]
async fn jobs_apply_filters_metrics_and_sort_by() {
    let fake = start(usage_fake::ORG_SERIES).await;
    let q = queries(&fake);
    let rows = |body| {
        let q = &q;
        async move {
            q.aggregate_usage(&job(body))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
        }
    };
    let all = rows(json!({"groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"]})).await;
    // Each integration calls 16 endpoints; the own client 4.
    assert_eq!(all.len(), 5 * 16 + 4);

    let gets = rows(json!({
        "groupBy": ["TemplateUri", "HttpMethod"],
        "httpMethods": ["GET"],
    }))
    .await;
    assert!(!gets.is_empty());
    assert!(
        gets.iter()
            .all(|r| r.http_method.as_ref().unwrap().as_str() == "GET")
    );

    let (id, name) = usage_fake::OAUTH_CLIENTS[1];
    let one = rows(json!({
        "groupBy": ["OauthClientId", "Platform"],
        "oauthClientIds": [id],
        "templateUris": ["api/v2/users", "api/v2/routing/queues"],
        "metrics": ["Status429"],
    }))
    .await;
    assert_eq!(one.len(), 1);
    let row = &one[0];
    assert_eq!(
        row.oauth_client.as_ref().unwrap().name.as_deref(),
        Some(name)
    );
    assert!(row.platform.is_some(), "grouped by platform");
    assert!(row.status429.is_some() && row.request_count.is_none() && row.status200.is_none());
    let of_two: i64 = all
        .iter()
        .filter(|r| r.oauth_client.as_ref().unwrap().id.as_deref() == Some(id))
        .filter(|r| {
            ["api/v2/users", "api/v2/routing/queues"].contains(&r.template_uri.as_deref().unwrap())
        })
        .map(|r| r.status429.unwrap())
        .sum();
    assert_eq!(
        row.status429,
        Some(of_two),
        "the filters keep exactly those rows"
    );

    let sorted = rows(json!({
        "groupBy": ["TemplateUri"],
        "sortBy": [{"fieldName": "requestCount", "order": "Desc"}],
    }))
    .await;
    let counts: Vec<i64> = sorted.iter().map(|r| r.request_count.unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(counts.first() > counts.last());

    let err = q
        .aggregate_usage(&job(json!({"sortBy": [{"fieldName": "colour"}]})))
        .await
        .unwrap_err();
    let body = submit_error(err);
    assert_eq!(body.code.as_deref(), Some("invalid.property"));
    assert_eq!(
        body.message_params.get("value").map(String::as_str),
        Some("colour")
    );
}

fn submit_error(err: Error) -> ErrorBody {
    match err {
        Error::Submit(source) => source.body().expect("an ErrorBody").clone(),
        other => panic!("expected a refused submission, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cancelled_job_is_a_typed_error() {
    let fake = start(24).await;
    fake.set_completion(Completion::AfterPolls(1), Outcome::Cancelled);
    let err = queries(&fake)
        .aggregate_usage(&job(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JobCancelled { .. }), "{err:?}");
}

#[tokio::test]
async fn simple_search_is_served_paged_and_capped() {
    let fake = start(usage_fake::ORG_SERIES).await;
    let q = queries(&fake).with_page_size(7).unwrap();
    let search = serde_json::from_value(json!({
        "interval": "2026-10-01/2026-10-08",
        "metrics": ["ClientName", "TemplateUri", "Status429"],
        "httpMethods": ["POST"],
    }))
    .unwrap();
    let result: ApiUsageQueryResult = q.simple_search(&search).await.unwrap();
    // The integrations' 5 POST endpoints each; the own client's usage query and job submit.
    assert_eq!(
        result.results.len(),
        5 * 5 + 2,
        "one row per client and endpoint"
    );
    assert!(result.results.iter().all(|r| {
        !r.client_name().is_empty()
            && r.status429.is_some()
            && r.status200.is_none()
            && r.requests.is_none()
            && r.date.is_none()
    }));
    assert!(
        fake.requests(Operation::GetUsageSimplesearchExecutionIdResults) >= 4,
        "pages of 7 rows joined by cursors.after"
    );

    // The service answers at most 20,000 rows.
    let big = start(30_000).await;
    let q = queries(&big).with_page_size(1_000).unwrap();
    let search = serde_json::from_value(json!({
        "interval": "2026-10-01/2026-10-04",
        "metrics": ["Date", "ClientName", "TemplateUri"],
    }))
    .unwrap();
    assert_eq!(
        q.simple_search(&search).await.unwrap().results.len(),
        20_000
    );
}

/// Every error body the fake sends: `(what provoked it, body)`.
async fn error_bodies() -> Vec<(&'static str, ErrorBody)> {
    let fake = start(24).await;
    let client = fake_client(&fake)
        .retry_policy(usage_client::RetryPolicy::disabled())
        .build()
        .unwrap();
    let mut bodies = Vec::new();
    let mut keep = |what, err: UsageError| {
        bodies.push((what, err.body().expect("an ErrorBody").clone()));
    };
    let bad = |body: serde_json::Value| -> ApiUsageOrganizationQuery {
        serde_json::from_value(body).unwrap()
    };
    for (what, body) in [
        ("bad interval", json!({"interval": "last week"})),
        (
            "bad granularity",
            json!({"interval": "2026-10/2026-11", "granularity": "Hour"}),
        ),
    ] {
        keep(what, client.post_usage_query(&bad(body)).await.unwrap_err());
    }
    keep(
        "unknown execution",
        client
            .get_usage_query_execution_id_results("no-such-execution")
            .await
            .unwrap_err(),
    );
    keep(
        "days out of range",
        client
            .get_oauth_client_usage_summary(usage_fake::OAUTH_CLIENTS[0].0, Some("100000"))
            .await
            .unwrap_err(),
    );
    keep(
        "page size out of range",
        client
            .get_usage_aggregates_query_job("x", None, Some(0))
            .await
            .unwrap_err(),
    );
    let too_long: OrganizationPublicApiUsageQueryRequest =
        serde_json::from_value(json!({"interval": "2026-08-01/2026-11-20"})).unwrap();
    keep(
        "job interval over 90 days",
        client
            .post_usage_aggregates_query_jobs(&too_long)
            .await
            .unwrap_err(),
    );
    for status in [429, 503, 504, 408, 409, 413] {
        fake.fault_every(
            Operation::GetUsageQueryExecutionIdResults,
            Fault::status(status),
        );
        let err: UsageError = client
            .get_usage_query_execution_id_results("x")
            .await
            .unwrap_err();
        fake.clear_faults();
        assert_eq!(err.status(), Some(status));
        keep("an injected status", err);
    }
    fake.fault_every(
        Operation::GetUsageQueryExecutionIdResults,
        Fault::rate_limited(7),
    );
    keep(
        "429 with Retry-After",
        client
            .get_usage_query_execution_id_results("x")
            .await
            .unwrap_err(),
    );
    fake.clear_faults();
    let anonymous = usage_tests::bare_client(&fake.base_url());
    keep(
        "no token",
        anonymous
            .get_usage_query_execution_id_results("x")
            .await
            .unwrap_err(),
    );
    bodies
}

#[tokio::test]
async fn errors_use_upstream_templates_with_named_params() {
    let bodies = error_bodies().await;
    for (what, body) in &bodies {
        let message = body.message.as_deref().unwrap();
        assert!(!message.contains("%s"), "{what}: {message}");
        match body.message_with_params.as_deref() {
            // A template with values: `{name}` where each was, and each value by name.
            Some(template) => {
                let mut filled = template.to_string();
                for (name, value) in &body.message_params {
                    assert!(
                        template.contains(&format!("{{{name}}}")),
                        "{what}: {template}"
                    );
                    filled = filled.replace(&format!("{{{name}}}"), value);
                }
                assert_eq!(filled, message, "{what}");
            }
            None => assert!(body.message_params.is_empty(), "{what}"),
        }
    }
    let find = |what: &str| &bodies.iter().find(|(w, _)| *w == what).unwrap().1;
    let days = find("days out of range");
    assert_eq!(days.code.as_deref(), Some("invalid.query.param.value"));
    assert_eq!(
        days.message_params.get("value").map(String::as_str),
        Some("100000")
    );
    assert_eq!(
        find("job interval over 90 days").message.as_deref(),
        Some("End date cannot be more than 90 days after the start.")
    );
    assert_eq!(
        find("429 with Retry-After").message.as_deref(),
        Some("Rate limit exceeded the maximum. Retry the request in [7] seconds")
    );
}

/// Upstream's `x-inin-error-codes` of every operation, code -> template.
fn upstream_templates() -> Option<BTreeMap<String, String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/upstream/usage-api.swagger.yaml"
    );
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let mut templates = BTreeMap::new();
    fn walk(v: &serde_yaml::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, v) in m {
                    if k.as_str() == Some("x-inin-error-codes")
                        && let serde_yaml::Value::Mapping(codes) = v
                    {
                        for (code, template) in codes {
                            if let (Some(c), Some(t)) = (code.as_str(), template.as_str()) {
                                out.insert(c.to_string(), t.to_string());
                            }
                        }
                    } else {
                        walk(v, out);
                    }
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&doc, &mut templates);
    Some(templates)
}

#[tokio::test]
async fn error_templates_are_upstreams_own() {
    let Some(upstream) = upstream_templates() else {
        eprintln!("upstream's file is not here (../shared): skipped");
        return;
    };
    assert!(upstream.len() > 10, "upstream's codes were read");
    for (what, body) in error_bodies().await {
        let code = body.code.as_deref().unwrap();
        let template = upstream
            .get(code)
            .unwrap_or_else(|| panic!("{what}: {code} is not one of upstream's codes"));
        // Upstream's `%s` where the fake put `{name}`.
        let mut ours = body
            .message_with_params
            .clone()
            .unwrap_or_else(|| body.message.clone().unwrap());
        for name in body.message_params.keys() {
            ours = ours.replace(&format!("{{{name}}}"), "%s");
        }
        assert_eq!(&ours, template, "{what}: {code}");
    }
}
