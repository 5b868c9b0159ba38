//! usage-ext's aggregates query jobs against a scripted server: the wait, paging by
//! cursor without losing or repeating rows, retries of a failed page, resuming from
//! (jobId, cursor), refused cursors, and jobs that fail or are cancelled.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use usage_client::models::{
    ClientPublicApiUsageQueryRequest, OrganizationPublicApiUsage,
    OrganizationPublicApiUsageQueryRequest,
};
use usage_client::{Client, RetryPolicy};
use usage_ext::{Error, Job, PollPolicy, PollStatus, UsageQueries};
use usage_tests::hostile::{Act, Hostile, Logged};

const TOKEN: &str = "/oauth/token";
const JOBS: &str = "/api/v2/usage/aggregates/query/jobs";
const JOB: &str = "/api/v2/usage/aggregates/query/jobs/job-1";
const CLIENT_JOBS: &str = "/api/v2/usage/client/c-1/aggregates/query/jobs";
const CLIENT_JOB: &str = "/api/v2/usage/client/c-1/aggregates/query/jobs/job-1";

fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// One page of a job of `total` rows: row i has `requestCount` i. Cursors are `c<offset>`.
fn page(job_path: &str, total: usize, request: &Logged) -> Act {
    let size: usize = query_param(&request.target, "pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let offset = match query_param(&request.target, "after") {
        None => 0,
        Some(c) => match c.strip_prefix('c').and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Act::json(400, json!({"status": 400, "code": "invalid.cursor"})),
        },
    };
    let end = (offset + size).min(total);
    let rows: Vec<Value> = (offset..end)
        .map(|i| json!({"templateUri": format!("/api/v2/t/{i}"), "requestCount": i, "date": "2026-10-01", "httpMethod": "GET"}))
        .collect();
    let mut body = json!({"queryStatus": "Succeeded", "entities": rows});
    if end < total {
        body["nextUri"] = json!(format!("{job_path}?pageSize={size}&after=c{end}"));
    }
    Act::json(200, body)
}

/// A job server: the job answers `Queued`, then `Running`, then its pages.
fn job_server(
    total: usize,
    status_after_running: &'static str,
) -> impl Fn(&Logged, &[Logged]) -> Act {
    move |req, earlier| {
        let path = req.path().to_string();
        let polls = earlier
            .iter()
            .filter(|l| l.path() == path && l.method == "GET")
            .count();
        match path.as_str() {
            TOKEN => Act::json(200, json!({"access_token": "tok", "expires_in": 3600})),
            JOBS | CLIENT_JOBS => Act::json(202, json!({"id": "job-1"})),
            // A page asked by cursor: the job is done by then.
            p if query_param(&req.target, "after").is_some() => page(p, total, req),
            _ if polls == 0 => Act::json(200, json!({"queryStatus": "Queued"})),
            _ if polls == 1 => Act::json(200, json!({"queryStatus": "Running"})),
            _ if status_after_running != "Succeeded" => Act::json(
                200,
                json!({"queryStatus": status_after_running, "errorBody": {"code": "job.failed", "message": "it broke"}}),
            ),
            p => page(p, total, req),
        }
    }
}

fn queries(server: &Hostile, retry: RetryPolicy) -> UsageQueries {
    let client = Client::builder()
        .base_url(&server.url())
        .client_credentials("id", "secret")
        .no_proxy()
        .retry_policy(retry)
        .build()
        .unwrap();
    UsageQueries::new(client)
        .with_policy(
            PollPolicy::default()
                .with_initial_delay(Duration::from_millis(5))
                .with_factor(1.0)
                .with_max_delay(Duration::from_millis(5))
                .with_max_wait(Duration::from_secs(20)),
        )
        .unwrap()
}

fn request() -> OrganizationPublicApiUsageQueryRequest {
    serde_json::from_value(json!({"interval": usage_tests::recent_interval()})).unwrap()
}

fn counts(rows: &[OrganizationPublicApiUsage]) -> Vec<i64> {
    rows.iter().map(|r| r.request_count.unwrap()).collect()
}

#[tokio::test]
async fn a_job_is_waited_for_then_paged_without_loss_or_repeat() {
    let server = Hostile::start(job_server(2_500, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default());
    let job = q.submit_aggregate(&request()).await.unwrap();
    assert_eq!(job.job_id, "job-1");
    let mut statuses = Vec::new();
    let pages = job
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
    let rows = pages.collect().await.unwrap();
    assert_eq!(counts(&rows), (0..2_500).collect::<Vec<i64>>());
    assert_eq!(
        rows[0].date,
        Some(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
    );
    // Three polls (the last one is page 1), then pages 2 and 3, all of 1,000 rows.
    let gets: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.path() == JOB)
        .map(|l| l.target.clone())
        .collect();
    assert_eq!(gets.len(), 5, "{gets:?}");
    assert!(gets.iter().all(|t| t.contains("pageSize=1000")), "{gets:?}");
    assert!(
        gets[3].contains("after=c1000") && gets[4].contains("after=c2000"),
        "{gets:?}"
    );
}

#[tokio::test]
async fn rows_stream_one_at_a_time_across_pages() {
    let server = Hostile::start(job_server(250, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default())
        .with_page_size(100)
        .unwrap();
    let rows: Vec<OrganizationPublicApiUsage> = q
        .aggregate_usage(&request())
        .await
        .unwrap()
        .rows()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(counts(&rows), (0..250).collect::<Vec<i64>>());
    assert!(q.clone().with_page_size(0).is_err());
    assert!(q.with_page_size(1_001).is_err());
}

/// A 300-row job whose second page (after `c100`) answers 503 to its first `failures` sends.
async fn second_page_failing(failures: usize) -> Hostile {
    let inner = job_server(300, "Succeeded");
    Hostile::start(move |req, earlier| {
        if query_param(&req.target, "after") == Some("c100")
            && second_page_sends_of(earlier) < failures
        {
            return Act::json(503, json!({"status": 503}));
        }
        inner(req, earlier)
    })
    .await
}

fn second_page_sends_of(log: &[Logged]) -> usize {
    log.iter()
        .filter(|l| query_param(&l.target, "after") == Some("c100"))
        .count()
}

fn second_page_sends(server: &Hostile) -> usize {
    second_page_sends_of(&server.log())
}

#[tokio::test]
async fn a_page_that_fails_is_fetched_again_from_its_cursor() {
    // The second page answers 503 twice: the client's retries fetch it again, and
    // nothing on top of them does.
    let server = second_page_failing(2).await;
    let fast = RetryPolicy::default()
        .with_initial_backoff(std::time::Duration::from_millis(1))
        .with_max_backoff(std::time::Duration::from_millis(5));
    let q = queries(&server, fast).with_page_size(100).unwrap();
    let rows = q
        .aggregate_usage(&request())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(counts(&rows), (0..300).collect::<Vec<i64>>());
    assert_eq!(second_page_sends(&server), 3, "two failures, one success");

    // Without client retries, a failed page is returned once, and the next call fetches
    // the same page: no row lost or repeated.
    let server = second_page_failing(1).await;
    let q = queries(&server, RetryPolicy::disabled())
        .with_page_size(100)
        .unwrap();
    let mut pages = q.aggregate_usage(&request()).await.unwrap();
    let mut rows = pages.next_page().await.unwrap().unwrap();
    let err = pages.next_page().await.unwrap().unwrap_err();
    assert_eq!(
        second_page_sends(&server),
        1,
        "one send for the failed page: {err}"
    );
    while let Some(page) = pages.next_page().await {
        rows.extend(page.unwrap());
    }
    assert_eq!(counts(&rows), (0..300).collect::<Vec<i64>>());
    assert_eq!(second_page_sends(&server), 2);
}

#[tokio::test]
async fn paging_resumes_from_the_job_id_and_the_cursor() {
    let server = Hostile::start(job_server(2_500, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default());
    let mut pages = q.aggregate_usage(&request()).await.unwrap();
    let first = pages.next_page().await.unwrap().unwrap();
    assert_eq!(counts(&first), (0..1_000).collect::<Vec<i64>>());
    let cursor = pages.cursor().map(str::to_string);
    assert_eq!(cursor.as_deref(), Some("c1000"));
    // As if saved and the process restarted.
    let saved = serde_json::to_string(pages.job()).unwrap();
    drop(pages);
    let job: Job<OrganizationPublicApiUsage> = serde_json::from_str(&saved).unwrap();
    let rest = job.pages_from(&q, cursor).collect().await.unwrap();
    assert_eq!(counts(&rest), (1_000..2_500).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_cursor_the_service_refuses_is_a_typed_error() {
    let server = Hostile::start(job_server(10, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default());
    let mut pages = Job::organization("job-1").pages_from(&q, Some("bogus".into()));
    match pages.next_page().await.unwrap().unwrap_err() {
        Error::InvalidCursor { job_id, cursor, .. } => {
            assert_eq!((job_id.as_str(), cursor.as_str()), ("job-1", "bogus"));
        }
        other => panic!("expected InvalidCursor, got {other:?}"),
    }
}

#[tokio::test]
async fn failed_and_cancelled_jobs_are_typed_errors_with_the_job_and_its_reason() {
    for status in ["Failed", "Cancelled"] {
        let server = Hostile::start(job_server(10, status)).await;
        let q = queries(&server, RetryPolicy::default());
        let mut last = None;
        let err = q
            .submit_aggregate(&request())
            .await
            .unwrap()
            .wait_with(&q, |e| last = Some(e.status.clone()))
            .await
            .unwrap_err();
        let (job_id, body) = match &err {
            Error::JobFailed { job_id, error_body } if status == "Failed" => (job_id, error_body),
            Error::JobCancelled { job_id, error_body } if status == "Cancelled" => {
                (job_id, error_body)
            }
            other => panic!("{status}: {other:?}"),
        };
        assert_eq!(job_id, "job-1");
        assert_eq!(body.as_ref().unwrap().code.as_deref(), Some("job.failed"));
        assert!(err.to_string().contains("it broke"), "{err}");
        assert_eq!(err.execution_id(), Some("job-1"));
        let expected = if status == "Failed" {
            PollStatus::Failed
        } else {
            PollStatus::Cancelled
        };
        assert_eq!(last, Some(expected));
    }
}

#[tokio::test]
async fn a_job_that_ends_badly_while_paging_is_the_same_typed_error_and_ends_the_pages() {
    for status in ["Failed", "Cancelled"] {
        let inner = job_server(300, "Succeeded");
        let server = Hostile::start(move |req, earlier| {
            if query_param(&req.target, "after") == Some("c100") {
                return Act::json(
                    200,
                    json!({
                        "queryStatus": status,
                        "errorBody": {"code": "job.failed", "message": "it broke"},
                    }),
                );
            }
            inner(req, earlier)
        })
        .await;
        let q = queries(&server, RetryPolicy::default())
            .with_page_size(100)
            .unwrap();
        let mut pages = q.aggregate_usage(&request()).await.unwrap();
        assert_eq!(pages.next_page().await.unwrap().unwrap().len(), 100);
        let err = pages.next_page().await.unwrap().unwrap_err();
        let body = match &err {
            Error::JobFailed { error_body, .. } if status == "Failed" => error_body,
            Error::JobCancelled { error_body, .. } if status == "Cancelled" => error_body,
            other => panic!("{status}: {other:?}"),
        };
        assert_eq!(body.as_ref().unwrap().code.as_deref(), Some("job.failed"));
        assert!(pages.next_page().await.is_none(), "{status}: the pages end");
    }
}

#[tokio::test]
async fn a_client_job_lives_under_its_client() {
    let server = Hostile::start(job_server(150, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default())
        .with_page_size(100)
        .unwrap();
    let query: ClientPublicApiUsageQueryRequest =
        serde_json::from_value(json!({"interval": usage_tests::recent_interval()})).unwrap();
    let rows = q
        .client_aggregate_usage("c-1", &query)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 150);
    assert!(server.count(CLIENT_JOB) >= 4);
    assert_eq!(server.count(JOB), 0);
    // Refused before anything is sent.
    let err = q.submit_client_aggregate("..", &query).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

const SEARCH: &str = "/api/v2/usage/simplesearch";
const SEARCH_RESULTS: &str = "/api/v2/usage/simplesearch/s-1/results";

/// A simple search: `Running` once, then two pages of rows joined by a cursor (or, with
/// `stuck`, a cursor that never moves).
fn search_server(stuck: bool) -> impl Fn(&Logged, &[Logged]) -> Act {
    move |req, earlier| {
        let polls = earlier
            .iter()
            .filter(|l| l.path() == SEARCH_RESULTS)
            .count();
        let row = |i: i64| json!({"templateUri": format!("/t/{i}"), "requests": i});
        match (req.path(), query_param(&req.target, "after")) {
            (TOKEN, _) => Act::json(200, json!({"access_token": "tok", "expires_in": 3600})),
            (SEARCH, _) => Act::json(202, json!({"executionId": "s-1"})),
            (_, None) if polls == 0 => Act::json(200, json!({"queryStatus": "Running"})),
            (_, None) => Act::json(
                200,
                json!({"queryStatus": "Complete", "results": [row(0), row(1)], "cursors": {"after": "p2"}}),
            ),
            (_, Some(_)) if stuck => Act::json(
                200,
                json!({"queryStatus": "Complete", "results": [row(2)], "cursors": {"after": "p2"}}),
            ),
            (_, Some(_)) => Act::json(200, json!({"queryStatus": "Complete", "results": [row(2)]})),
        }
    }
}

#[tokio::test]
async fn a_simple_search_is_polled_and_its_pages_followed() {
    let server = Hostile::start(search_server(false)).await;
    let q = queries(&server, RetryPolicy::default());
    let search: usage_client::models::ApiUsageSimpleSearch =
        serde_json::from_value(json!({"interval": "2026-10-01/2026-11-01"})).unwrap();
    let result = q.simple_search(&search).await.unwrap();
    let requests: Vec<i64> = result.results.iter().map(|r| r.requests()).collect();
    assert_eq!(requests, [0, 1, 2]);
    assert_eq!(server.count(SEARCH_RESULTS), 3, "two polls and one page");

    let stuck = Hostile::start(search_server(true)).await;
    let q = queries(&stuck, RetryPolicy::default());
    let err = q.simple_search(&search).await.unwrap_err();
    assert!(matches!(err, Error::Page { .. }), "{err:?}");
    assert!(err.to_string().contains("same cursor"), "{err}");
}

#[tokio::test]
async fn a_job_interval_the_service_refuses_is_refused_before_sending() {
    let server = Hostile::start(job_server(10, "Succeeded")).await;
    let q = queries(&server, RetryPolicy::default());
    for interval in ["2026-01-01/2026-06-01", "2019-01-01/2019-01-31"] {
        let request: OrganizationPublicApiUsageQueryRequest =
            serde_json::from_value(json!({"interval": interval})).unwrap();
        let err = q.submit_aggregate(&request).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{interval}: {err:?}");
    }
    assert_eq!(server.count(JOBS), 0, "nothing was sent");
}
