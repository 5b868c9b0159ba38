//! usage-fake on its own terms (tokens, validation, seeded rows) and every fault it can
//! inject, seen through the client and the poller.

use std::sync::Arc;
use std::time::Duration;

use usage_client::models::{ApiUsageOrganizationQuery, OrganizationGroupBy};
use usage_client::{AuthError, Client, RetryPolicy, UsageError};
use usage_ext::{Error, PollStatus, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Fault, Operation, Outcome};
use usage_tests::{ManualClock, fake_client, steady_polls};

const RESULTS: Operation = Operation::GetUsageQueryExecutionIdResults;
const SUBMIT: Operation = Operation::PostUsageQuery;

async fn start(rows: usize, polls: u32) -> FakeService {
    FakeService::start(FakeConfig {
        rows,
        completion: Completion::AfterPolls(polls),
        ..FakeConfig::default()
    })
    .await
    .unwrap()
}

fn client(fake: &FakeService, clock: &Arc<ManualClock>) -> Client {
    fake_client(fake)
        .clock(clock.clone())
        .timeout(Duration::from_millis(500))
        .retry_policy(RetryPolicy::default().with_jitter(false))
        .build()
        .unwrap()
}

fn queries(fake: &FakeService, clock: &Arc<ManualClock>) -> UsageQueries {
    UsageQueries::new(client(fake, clock))
        .with_policy(steady_polls(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .expect("a valid poll policy")
}

/// Grouped by client, user and endpoint without granularity: one row per series of the
/// fake's org, so as many rows as it was started with.
fn query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01/2026-11-01").with_group_by([
        OrganizationGroupBy::OAuthClientId,
        OrganizationGroupBy::UserId,
        OrganizationGroupBy::TemplateUri,
        OrganizationGroupBy::HttpMethod,
    ])
}

#[tokio::test]
async fn tokens_are_checked_and_renewed_after_expiry() {
    let fake = start(3, 0).await;
    let wrong = Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), "not-the-secret")
        .build()
        .unwrap();
    let err = wrong.authenticate().await.unwrap_err();
    assert!(
        matches!(err, AuthError::InvalidCredentials { ref error, .. } if error == "invalid_client"),
        "{err:?}"
    );

    let bare = usage_tests::bare_client(&fake.base_url());
    let err: UsageError = bare
        .get_usage_query_execution_id_results("x")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.body().unwrap().code.as_deref(),
        Some("authentication.required")
    );

    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    q.organization_usage(&query()).await.unwrap();
    assert_eq!(
        fake.requests(Operation::Token),
        2,
        "one refused, one issued"
    );
    // The service revokes every token mid-run: the client renews once and goes on.
    fake.expire_tokens();
    q.organization_usage(&query()).await.unwrap();
    assert_eq!(fake.requests(Operation::Token), 3);
}

#[tokio::test]
async fn rows_are_seeded_realistic_and_sized() {
    let clock = ManualClock::new();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let fake = start(1_000, 0).await;
        let result = queries(&fake, &clock)
            .organization_usage(&query())
            .await
            .unwrap();
        bodies.push(serde_json::to_string(&result).unwrap());
        assert_eq!(result.results.len(), 1_000);
        for row in &result.results {
            let n = |v: Option<i64>| v.unwrap();
            assert!(
                n(row.status429) <= n(row.status400),
                "429s are a subset of 4xx"
            );
            assert_eq!(
                n(row.requests),
                n(row.status200) + n(row.status300) + n(row.status400) + n(row.status500)
            );
            let uri = row.template_uri.as_deref().unwrap();
            assert!(uri.starts_with("api/v2/"), "{uri}");
            assert!(row.date.is_none(), "no granularity, no date");
            assert!(row.user_id.is_some(), "grouped by user: an id or \"\"");
            assert!(!row.http_method.as_deref().unwrap().is_empty());
            assert!(!row.client_name.as_deref().unwrap().is_empty());
        }
    }
    assert_eq!(bodies[0], bodies[1], "same seed, same rows");

    let fake = start(0, 0).await;
    let empty = queries(&fake, &clock)
        .organization_usage(&query())
        .await
        .unwrap();
    assert!(empty.results.is_empty());
    fake.set_rows(20_000);
    // Rows are decoded while the body arrives, inside the request's timeout: this suite's
    // 500 ms is for its fault tests, not for 7 MB decoded by a debug build.
    let patient = fake_client(&fake)
        .clock(clock.clone())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let large = UsageQueries::new(patient)
        .with_policy(steady_polls(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .unwrap()
        .organization_usage(&query())
        .await
        .unwrap();
    assert_eq!(large.results.len(), 20_000);
}

#[tokio::test]
async fn completion_after_time_and_failed_outcome() {
    let fake = FakeService::start(FakeConfig {
        completion: Completion::AfterTime(Duration::from_millis(150)),
        rows: 2,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = fake_client(&fake).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(steady_polls(
            Duration::from_millis(50),
            Duration::from_secs(5),
        ))
        .expect("a valid poll policy");
    let result = q.organization_usage(&query()).await.unwrap();
    assert_eq!(result.results.len(), 2);
    assert!(
        fake.requests(RESULTS) >= 3,
        "Running until 150 ms had passed"
    );

    fake.set_completion(Completion::AfterPolls(0), Outcome::Failed);
    assert!(matches!(
        q.organization_usage(&query()).await,
        Err(Error::FailureState { .. })
    ));
}

/// Each fault on the first results poll: the job still ends with its rows.
#[tokio::test]
async fn every_fault_on_a_poll_is_absorbed() {
    let faults = [
        (Fault::status(503), "503 retried by the client"),
        (Fault::status(429), "429 without Retry-After"),
        (Fault::rate_limited(3), "429 with Retry-After"),
        (
            Fault::Delay(Duration::from_secs(2)),
            "past the client timeout",
        ),
        (Fault::DropConnection, "connection broken mid-body"),
        (Fault::Truncated, "JSON cut half way"),
        (Fault::Malformed, "not JSON"),
        (Fault::UnknownValues, "unlisted status and fields"),
    ];
    for (fault, what) in faults {
        let fake = start(4, 1).await;
        fake.fault_nth(RESULTS, 1, fault.clone());
        let clock = ManualClock::new();
        let q = queries(&fake, &clock);
        let mut statuses = Vec::new();
        let result = q
            .submit_organization(&query())
            .await
            .unwrap()
            .wait_with(&q, |e| statuses.push(e.status.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(result.results.len(), 4, "{what}");
        assert_eq!(*statuses.last().unwrap(), PollStatus::Complete, "{what}");
        assert_eq!(fake.requests(SUBMIT), 1, "{what}");
    }
}

#[tokio::test]
async fn faults_on_a_submission_are_never_replayed_unless_provably_unprocessed() {
    // 429: refused before processing, retried.
    let fake = start(1, 0).await;
    fake.fault_nth(SUBMIT, 1, Fault::status(429));
    let clock = ManualClock::new();
    queries(&fake, &clock)
        .organization_usage(&query())
        .await
        .unwrap();
    assert_eq!(fake.requests(SUBMIT), 2);

    // 500, a broken connection, a timeout: the query may have started; one send only.
    for (fault, what) in [
        (Fault::status(500), "500"),
        (Fault::DropConnection, "dropped"),
        (Fault::Delay(Duration::from_secs(2)), "timeout"),
    ] {
        let fake = start(1, 0).await;
        fake.fault_nth(SUBMIT, 1, fault);
        let err = queries(&fake, &clock)
            .organization_usage(&query())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Submit(_)), "{what}: {err:?}");
        assert_eq!(fake.requests(SUBMIT), 1, "{what}: never replayed");
    }
}

#[tokio::test]
async fn a_persistent_garbled_answer_ends_as_a_typed_poll_error_after_the_failure_budget() {
    let fake = start(1, 0).await;
    fake.fault_every(RESULTS, Fault::Malformed);
    let clock = ManualClock::new();
    let queries = UsageQueries::new(client(&fake, &clock))
        .with_policy(steady_polls(
            Duration::from_secs(1),
            Duration::from_secs(15 * 60),
        ))
        .unwrap();
    let err = queries.organization_usage(&query()).await.unwrap_err();
    match err {
        Error::PollsFailing {
            polls,
            failed_polls,
            failing_for,
            source,
            ..
        } => {
            assert_eq!(polls, failed_polls, "every poll failed");
            assert_eq!(fake.requests(RESULTS), polls as u64);
            assert_eq!(
                failing_for,
                Duration::from_secs(60),
                "the budget, to the poll"
            );
            assert!(matches!(*source, UsageError::Decode { .. }), "{source:?}");
        }
        other => panic!("expected Error::PollsFailing, got {other:?}"),
    }
}

fn job_request(
    group_by: serde_json::Value,
) -> usage_client::models::OrganizationPublicApiUsageQueryRequest {
    serde_json::from_value(serde_json::json!({
        "interval": usage_tests::recent_interval(),
        "groupBy": group_by,
    }))
    .unwrap()
}

/// Aggregates query jobs: `Queued`, `Running`, then pages by cursor; the same rows
/// whatever the page size; a client's job sees its own rows; refused cursors and sizes.
#[tokio::test]
async fn jobs_are_queued_run_and_paged_by_cursor() {
    let fake = start(2_500, 2).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    // One row per series: grouped by client, user and endpoint, no granularity.
    let request = job_request(serde_json::json!([
        "OauthClientId",
        "UserId",
        "TemplateUri",
        "HttpMethod"
    ]));
    let mut statuses = Vec::new();
    let pages = q
        .submit_aggregate(&request)
        .await
        .unwrap()
        .wait_with(&q, |e| statuses.push(e.status.clone()))
        .await
        .unwrap();
    assert_eq!(
        statuses,
        [
            PollStatus::Queued,
            PollStatus::Running,
            PollStatus::Complete
        ]
    );
    let job = pages.job().clone();
    let big = pages.collect().await.unwrap();
    assert_eq!(big.len(), 2_500);
    assert!(
        big.iter()
            .all(|r| r.oauth_client.is_some() && r.template_uri.is_some())
    );
    // Grouped by user: a user where there is one; client-credentials requests have none.
    assert!(big.iter().any(|r| r.user.is_some()));
    assert!(big.iter().any(|r| r.user.is_none()));
    // The same rows in pages of 100 (resumed from the start, as after a restart).
    let small = job
        .pages_from(&q.clone().with_page_size(100).unwrap(), None)
        .collect()
        .await
        .unwrap();
    assert_eq!(small, big);
    // 3 polls (the last is page 1 of 1,000), 2 more pages; then 25 pages of 100.
    assert_eq!(
        fake.requests(Operation::GetUsageAggregatesQueryJob),
        3 + 2 + 25
    );

    // A cursor the fake did not give.
    let err = job
        .pages_from(&q, Some("3e8.00000000".into()))
        .next_page()
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCursor { .. }), "{err:?}");
    // A page size out of range, through the client.
    let err: UsageError = q
        .client()
        .get_usage_aggregates_query_job(&job.job_id, None, Some(1_001))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.body().unwrap().code.as_deref(),
        Some("invalid.query.param.value")
    );
}

#[tokio::test]
async fn a_client_job_sees_its_own_rows_and_unknown_clients_are_404() {
    // Every client × user × endpoint: each client calls each of the 16 endpoints.
    let fake = start(usage_fake::ORG_SERIES, 0).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    let client_id = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d";
    let request: usage_client::models::ClientPublicApiUsageQueryRequest =
        serde_json::from_value(serde_json::json!({
            "interval": usage_tests::recent_interval(),
            "groupBy": ["TemplateUri", "OrganizationId"],
        }))
        .unwrap();
    let rows = q
        .client_aggregate_usage(client_id, &request)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 16, "one row per endpoint, the users summed");
    assert!(
        rows.iter()
            .all(|r| r.organization_id.as_deref() == Some("8a1b2c3d-0000-4000-8000-00000000cafe")),
        "grouped by organization, a client's rows name the org"
    );
    let err = q
        .submit_client_aggregate("00000000-0000-4000-8000-000000000000", &request)
        .await
        .unwrap_err();
    match err {
        Error::Submit(source) => assert_eq!(source.status(), Some(404)),
        other => panic!("{other:?}"),
    }
}

/// A client query sees only that client's rows, and a client the org does not have is a
/// 404, for the query and the summary alike.
#[tokio::test]
async fn client_queries_are_scoped_to_a_known_client() {
    let fake = start(40, 0).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    let (id, name) = usage_fake::OAUTH_CLIENTS[2];
    let query = usage_client::models::ApiUsageClientQuery::new("2026-10-01/2026-11-01")
        .with_group_by([
            usage_client::models::ClientGroupBy::OAuthClientId,
            usage_client::models::ClientGroupBy::TemplateUri,
        ]);
    let result = q.client_usage(id, &query).await.unwrap();
    assert!(!result.results.is_empty());
    assert!(
        result
            .results
            .iter()
            .all(|r| r.client_id() == id && r.client_name() == name),
        "another client's rows came back"
    );
    for err in [
        q.client_usage("no-such-client", &query).await.unwrap_err(),
        q.client_summary("no-such-client", None).await.unwrap_err(),
    ] {
        match err {
            Error::Submit(source) => {
                assert_eq!(source.status(), Some(404));
                assert_eq!(
                    source.body().unwrap().message.as_deref(),
                    Some("The requested resource was not found.")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A summary's daily buckets are dates at midnight UTC, not the time of the request.
#[tokio::test]
async fn summary_dates_are_days_at_midnight() {
    let fake = start(10, 0).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    let summary = q
        .client_summary(usage_fake::OWN_CLIENT.0, Some(3))
        .await
        .unwrap();
    assert!(!summary.results.is_empty());
    for row in &summary.results {
        let date = row.date.as_ref().expect("a summary is daily").to_string();
        assert!(date.contains("T00:00:00"), "{date}");
    }
}

/// A field sent as `null` counts as absent, whichever field it is.
#[tokio::test]
async fn null_fields_count_as_absent() {
    use base64::Engine as _;
    let fake = start(5, 0).await;
    let base = fake.base_url();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        fake.client_id(),
        fake.client_secret()
    ));
    let form = "application/x-www-form-urlencoded".to_string();
    let (_, token) = raw_post(
        &format!("{base}/oauth/token"),
        &[
            ("authorization", format!("Basic {basic}")),
            ("content-type", form),
        ],
        "grant_type=client_credentials",
    )
    .await;
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    for body in [
        r#"{"interval":"2026-10-01/2026-11-01","granularity":null}"#,
        r#"{"interval":"2026-10-01/2026-11-01","metrics":null,"groupBy":null}"#,
    ] {
        let headers = [
            ("authorization", bearer.clone()),
            ("content-type", "application/json".to_string()),
        ];
        let (status, answer) =
            raw_post(&format!("{base}/api/v2/usage/query"), &headers, body).await;
        assert_eq!(status, 202, "{body}: {answer}");
    }
}

/// A POST over a plain TCP connection (the client cannot send a `null` field): the status
/// and the body.
async fn raw_post(url: &str, headers: &[(&str, String)], body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut request = format!(
        "POST /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// Only the metrics a query selects come back; without `metrics`, all of them.
#[tokio::test]
async fn only_the_selected_metrics_come_back() {
    use usage_client::models::Metric;
    let fake = start(20, 0).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    let selected = q
        .organization_usage(&query().with_metrics([Metric::Requests, Metric::Status429]))
        .await
        .unwrap();
    assert!(selected.results.iter().all(|r| r.requests.is_some()
        && r.status429.is_some()
        && r.status200.is_none()
        && r.status300.is_none()
        && r.status400.is_none()
        && r.status500.is_none()));
    let all = q.organization_usage(&query()).await.unwrap();
    assert!(
        all.results
            .iter()
            .all(|r| r.requests.is_some() && r.status200.is_some())
    );
    // The jobs likewise.
    let request: usage_client::models::OrganizationPublicApiUsageQueryRequest =
        serde_json::from_value(serde_json::json!({
            "interval": usage_tests::recent_interval(),
            "metrics": ["Status500"],
        }))
        .unwrap();
    let rows = q
        .aggregate_usage(&request)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.status500.is_some() && r.request_count.is_none())
    );
}

/// Every counter is plausible: 2xx + 3xx + 4xx + 5xx make the requests, 429s are part of
/// the 4xx, and 3xx is not always zero.
#[tokio::test]
async fn counters_add_up_and_3xx_occurs() {
    let fake = start(300, 0).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock);
    let result = q.organization_usage(&query()).await.unwrap();
    for r in &result.results {
        assert_eq!(
            r.status200() + r.status300() + r.status400() + r.status500(),
            r.requests()
        );
        assert!(r.status429() <= r.status400());
    }
    assert!(result.results.iter().any(|r| r.status300() > 0));
}

/// A job's interval spans at most 90 days and starts at most a year ago, as upstream says.
#[tokio::test]
async fn the_fake_refuses_job_intervals_the_service_refuses() {
    let fake = start(5, 0).await;
    let client = fake_client(&fake).build().unwrap();
    for (interval, message) in [
        ("2026-01-01/2026-06-01", "90 days"),
        ("2019-01-01/2019-01-31", "a year ago"),
    ] {
        let request: usage_client::models::OrganizationPublicApiUsageQueryRequest =
            serde_json::from_value(serde_json::json!({ "interval": interval })).unwrap();
        let err: UsageError = client
            .post_usage_aggregates_query_jobs(&request)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{interval}");
        let body = err.body().unwrap();
        assert_eq!(body.code.as_deref(), Some("constraint.validation"));
        assert!(
            body.message.as_deref().unwrap().contains(message),
            "{body:?}"
        );
    }
}
