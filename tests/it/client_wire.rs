//! The generated client on the wire, against httpmock on 127.0.0.1: method, exact path,
//! query, body, headers, success and error decoding for each of the five operations.

// The error type is progenitor's `Error<ErrorBody>`, large by design; these helpers only pass it on.
#![allow(clippy::result_large_err)]

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::{Value, json};
use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ApiUsageQueryResult, ClientGroupBy,
    Granularity, Metric, OrganizationGroupBy, QueryStatus, UsageExecutionResult,
};
use usage_client::{Client, UsageError};
use usage_tests::{RawCapture, fixture};

const CLIENT_ID: &str = "4c4e8a4a-5b1e-4b8e-9d4b-0f1e2d3c4b5a";
const EXECUTION_ID: &str = "e6f7a8b9-0c1d-4e2f-8a3b-4c5d6e7f8a9b";

#[derive(Clone, Copy, Debug)]
enum Op {
    PostUsageQuery,
    GetUsageQueryExecutionIdResults,
    PostOauthClientUsageQuery,
    GetOauthClientUsageQueryResult,
    GetOauthClientUsageSummary,
}

const ALL: [Op; 5] = [
    Op::PostUsageQuery,
    Op::GetUsageQueryExecutionIdResults,
    Op::PostOauthClientUsageQuery,
    Op::GetOauthClientUsageQueryResult,
    Op::GetOauthClientUsageSummary,
];

fn org_query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z")
        .with_granularity(Granularity::Day)
        .with_metrics([Metric::Requests, Metric::Status429])
        .with_group_by([
            OrganizationGroupBy::UserId,
            OrganizationGroupBy::TemplateUri,
        ])
}

fn client_query() -> ApiUsageClientQuery {
    ApiUsageClientQuery::new("2026-10-01/2026-11-01").with_group_by([ClientGroupBy::HttpMethod])
}

impl Op {
    fn is_post(self) -> bool {
        matches!(self, Op::PostUsageQuery | Op::PostOauthClientUsageQuery)
    }

    fn returns_execution(self) -> bool {
        !matches!(
            self,
            Op::GetUsageQueryExecutionIdResults | Op::GetOauthClientUsageQueryResult
        )
    }

    fn path(self) -> String {
        match self {
            Op::PostUsageQuery => "/api/v2/usage/query".into(),
            Op::GetUsageQueryExecutionIdResults => {
                format!("/api/v2/usage/query/{EXECUTION_ID}/results")
            }
            Op::PostOauthClientUsageQuery => {
                format!("/api/v2/oauth/clients/{CLIENT_ID}/usage/query")
            }
            Op::GetOauthClientUsageQueryResult => {
                format!("/api/v2/oauth/clients/{CLIENT_ID}/usage/query/results/{EXECUTION_ID}")
            }
            Op::GetOauthClientUsageSummary => {
                format!("/api/v2/oauth/clients/{CLIENT_ID}/usage/summary")
            }
        }
    }

    /// The JSON body the operation must send, if any.
    fn body(self) -> Option<Value> {
        match self {
            Op::PostUsageQuery => Some(json!({
                "interval": "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z",
                "granularity": "Day",
                "metrics": ["Requests", "Status429"],
                "groupBy": ["UserId", "TemplateUri"],
            })),
            Op::PostOauthClientUsageQuery => Some(json!({
                "interval": "2026-10-01/2026-11-01",
                "groupBy": ["HttpMethod"],
            })),
            _ => None,
        }
    }

    fn success_body(self) -> String {
        if self.returns_execution() {
            json!({
                "executionId": EXECUTION_ID,
                "resultsUri": format!("/api/v2/usage/query/{EXECUTION_ID}/results"),
            })
            .to_string()
        } else {
            fixture("result_complete.json")
        }
    }

    /// What the success body decodes to, as JSON (dates come back in canonical form).
    fn expected_value(self) -> Value {
        let body = self.success_body();
        if self.returns_execution() {
            serde_json::to_value(serde_json::from_str::<UsageExecutionResult>(&body).unwrap())
        } else {
            serde_json::to_value(serde_json::from_str::<ApiUsageQueryResult>(&body).unwrap())
        }
        .unwrap()
    }

    /// Calls the operation; the decoded success value is returned as JSON so every
    /// operation can be compared the same way.
    async fn call(self, client: &Client) -> Result<Value, UsageError> {
        fn ok<T: serde::Serialize>(value: T) -> Result<Value, UsageError> {
            Ok(serde_json::to_value(value).unwrap())
        }
        match self {
            Op::PostUsageQuery => ok(client.post_usage_query(&org_query()).await?),
            Op::GetUsageQueryExecutionIdResults => ok(client
                .get_usage_query_execution_id_results(EXECUTION_ID)
                .await?),
            Op::PostOauthClientUsageQuery => ok(client
                .post_oauth_client_usage_query(CLIENT_ID, &client_query())
                .await?),
            Op::GetOauthClientUsageQueryResult => ok(client
                .get_oauth_client_usage_query_result(CLIENT_ID, EXECUTION_ID)
                .await?),
            Op::GetOauthClientUsageSummary => ok(client
                .get_oauth_client_usage_summary(CLIENT_ID, None)
                .await?),
        }
    }
}

fn client_for(server: &MockServer) -> Client {
    usage_tests::bare_client(&server.base_url())
}

#[tokio::test]
async fn each_operation_sends_its_method_path_headers_and_body() {
    for op in ALL {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                let mut when = when
                    .method(if op.is_post() { POST } else { GET })
                    .path(op.path())
                    .header("accept", "application/json")
                    .header_matches("user-agent", "^genesys-usage-rs/\\d+\\.\\d+\\.\\d+$")
                    .query_param_missing("days");
                if let Some(body) = op.body() {
                    when = when
                        .header("content-type", "application/json")
                        .json_body(body);
                }
                let _ = when;
                then.status(200)
                    .header("content-type", "application/json")
                    .body(op.success_body());
            })
            .await;
        let value = op.call(&client_for(&server)).await.unwrap_or_else(|e| {
            panic!("{op:?}: {e}");
        });
        mock.assert_async().await;
        assert_eq!(
            value,
            op.expected_value(),
            "{op:?}: decoded value differs from the body sent"
        );
    }
}

#[tokio::test]
async fn submit_operations_decode_202() {
    for op in ALL.into_iter().filter(|op| op.returns_execution()) {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.path(op.path());
                then.status(202)
                    .header("content-type", "application/json")
                    .body(op.success_body());
            })
            .await;
        let value = op.call(&client_for(&server)).await.unwrap();
        assert_eq!(value["executionId"], EXECUTION_ID, "{op:?}");
    }
}

#[tokio::test]
async fn summary_sends_days_only_when_given() {
    let server = MockServer::start_async().await;
    let explicit = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(Op::GetOauthClientUsageSummary.path())
                .query_param("days", "30");
            then.status(202)
                .header("content-type", "application/json")
                .body(Op::GetOauthClientUsageSummary.success_body());
        })
        .await;
    let client = client_for(&server);
    let rv = client
        .get_oauth_client_usage_summary(CLIENT_ID, Some("30"))
        .await
        .unwrap();
    assert_eq!(rv.execution_id.as_deref(), Some(EXECUTION_ID));
    explicit.assert_async().await;
}

#[tokio::test]
async fn error_statuses_decode_into_error_body() {
    for op in ALL {
        for status in [400u16, 404, 429, 500] {
            let server = MockServer::start_async().await;
            let body = json!({
                "message": format!("answer {status} to {op:?}"),
                "code": "some.code",
                "status": status,
                "contextId": "ctx-1",
            });
            server
                .mock_async(|when, then| {
                    when.path(op.path());
                    then.status(status)
                        .header("content-type", "application/json")
                        .header("ININ-Correlation-Id", "corr-1")
                        .json_body(body.clone());
                })
                .await;
            let answer = op.call(&client_for(&server)).await;
            // A POST answered 5xx may have started a query: the runtime hands it over as
            // `OutcomeUnknown`, with the service's ErrorBody inside.
            if op.is_post() && status >= 500 {
                let err = answer.unwrap_err();
                assert!(
                    matches!(err, usage_client::UsageError::OutcomeUnknown { .. }),
                    "{op:?} {status}: {err:?}"
                );
                assert_eq!(err.status(), Some(status));
                assert_eq!(err.body().unwrap().code.as_deref(), Some("some.code"));
                assert_eq!(err.correlation_id(), Some("corr-1"));
                assert!(!err.is_transient());
                continue;
            }
            let err = answer.unwrap_err();
            assert_eq!(err.status(), Some(status), "{op:?}: {err}");
            let rv = err.body().unwrap_or_else(|| {
                panic!("{op:?} {status}: expected a typed ErrorBody, got {err:?}")
            });
            assert_eq!(
                rv.message.as_deref(),
                Some(body["message"].as_str().unwrap())
            );
            assert_eq!(rv.code.as_deref(), Some("some.code"));
            assert_eq!(rv.status, Some(i32::from(status)));
            assert_eq!(err.correlation_id(), Some("corr-1"));
        }
    }
}

#[tokio::test]
async fn full_error_body_decodes() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path(Op::PostUsageQuery.path());
            then.status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "7")
                .body(fixture("error_rate_limited.json"));
        })
        .await;
    let Err(UsageError::RateLimited {
        retry_after, body, ..
    }) = Op::PostUsageQuery.call(&client_for(&server)).await
    else {
        panic!("expected a typed ErrorBody");
    };
    assert_eq!(retry_after, Some(std::time::Duration::from_secs(7)));
    let rv = body;
    let limit = rv.limit.as_ref().unwrap();
    assert_eq!(limit.value, Some(300));
    assert_eq!(limit.namespace.as_ref().unwrap().as_str(), "platform.api");
    assert_eq!(rv.message_params["0"], "7");
    assert_eq!(
        rv.details[0].error_code.as_deref(),
        Some("too.many.requests")
    );
    assert_eq!(rv.errors[0].code.as_deref(), Some("nested.cause"));
}

#[tokio::test]
async fn results_keep_unknown_status_and_ignore_unknown_fields() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path(Op::GetUsageQueryExecutionIdResults.path());
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("result_future.json"));
        })
        .await;
    let result = client_for(&server)
        .get_usage_query_execution_id_results(EXECUTION_ID)
        .await
        .unwrap();
    let status = result.query_status.unwrap();
    assert!(status.is_unknown());
    assert_eq!(status.as_str(), "Queued");
    assert_ne!(status, QueryStatus::Running);
    assert_eq!(result.results[0].requests, Some(12));
}

/// Ids are opaque: reserved characters are percent-encoded into one path segment.
#[tokio::test]
async fn reserved_characters_in_ids_are_encoded() {
    let nasty = "../x?y=1#frag /é%";
    let encoded = "..%2Fx%3Fy%3D1%23frag%20%2F%C3%A9%25";

    let capture = RawCapture::start(r#"{"queryStatus":"Running"}"#).await;
    usage_tests::bare_client(&capture.base_url)
        .get_usage_query_execution_id_results(nasty)
        .await
        .unwrap();
    assert_eq!(
        capture.request_line().await,
        format!("GET /api/v2/usage/query/{encoded}/results HTTP/1.1")
    );

    let capture = RawCapture::start(r#"{"queryStatus":"Running"}"#).await;
    usage_tests::bare_client(&capture.base_url)
        .get_oauth_client_usage_query_result(nasty, nasty)
        .await
        .unwrap();
    assert_eq!(
        capture.request_line().await,
        format!("GET /api/v2/oauth/clients/{encoded}/usage/query/results/{encoded} HTTP/1.1")
    );
}

/// `.` and `..` survive percent-encoding and would be removed by URL parsing, changing
/// the resource; empty ids would address `//`. Both are refused before anything is sent.
#[tokio::test]
async fn dot_and_empty_ids_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(200).body("{}");
        })
        .await;
    let client = client_for(&server);
    for id in ["..", ".", ""] {
        match client.get_usage_query_execution_id_results(id).await {
            Err(UsageError::InvalidRequest(message)) => {
                assert!(
                    message.contains("getUsageQueryExecutionIdResults"),
                    "{message}"
                )
            }
            other => panic!("id {id:?}: expected InvalidRequest, got {other:?}"),
        }
        match client
            .post_oauth_client_usage_query(id, &client_query())
            .await
        {
            Err(UsageError::InvalidRequest(_)) => {}
            other => panic!("client id {id:?}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert_eq!(any.calls_async().await, 0, "nothing may reach the server");
}

/// A proxy's HTML page or an empty body on an error status still gives the status, typed,
/// instead of a decoding failure that loses it.
#[tokio::test]
async fn error_statuses_without_an_error_body_keep_their_status() {
    for (status, body, quoted) in [
        (
            502u16,
            "<html><body>Bad Gateway</body></html>",
            "Bad Gateway",
        ),
        (404, "", "\"\""),
        (503, "{\"truncated\": ", "truncated"),
    ] {
        for op in [Op::PostUsageQuery, Op::GetUsageQueryExecutionIdResults] {
            let server = MockServer::start_async().await;
            server
                .mock_async(|when, then| {
                    when.path(op.path());
                    then.status(status)
                        .header("content-type", "text/html")
                        .body(body);
                })
                .await;
            let err = op.call(&client_for(&server)).await.unwrap_err();
            assert_eq!(err.status(), Some(status), "{op:?} {status}: {err}");
            let error_body = err.body().unwrap();
            assert_eq!(
                error_body.code.as_deref(),
                Some(usage_client::UNREADABLE_ERROR_BODY)
            );
            assert!(err.to_string().contains(quoted), "{err}");
        }
    }
}
