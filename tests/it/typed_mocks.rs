//! The generated usage-httpmock crate drives the generated client: typed `When`/`Then`
//! for each operation, as a downstream crate would use them.

use httpmock::MockServer;
use usage_client::UsageError;
use usage_client::models::{
    ApiUsageOrganizationQuery, ApiUsageQueryResult, ErrorBody, QueryStatus, UsageExecutionResult,
};
use usage_httpmock::MockServerExt as _;

#[tokio::test]
async fn typed_mocks_match_the_client_requests() {
    let server = MockServer::start_async().await;
    let query = ApiUsageOrganizationQuery::new("2026-10-01/2026-11-01");
    let submit = server.post_usage_query(|when, then| {
        when.body(&query);
        then.accepted(&UsageExecutionResult {
            execution_id: Some("e-1".into()),
            results_uri: Some("/api/v2/usage/query/e-1/results".into()),
        });
    });
    let poll = server.get_usage_query_execution_id_results(|when, then| {
        when.execution_id("e-1");
        then.ok(&ApiUsageQueryResult {
            query_status: Some(QueryStatus::Complete),
            ..Default::default()
        });
    });
    let summary = server.get_oauth_client_usage_summary(|when, then| {
        when.client_id("c-1").days("30");
        then.client_error(
            400,
            &ErrorBody {
                code: Some("invalid.query.param.value".into()),
                ..Default::default()
            },
        );
    });

    let client = usage_tests::bare_client(&server.base_url());
    let id = client
        .post_usage_query(&query)
        .await
        .unwrap()
        .execution_id
        .unwrap();
    let result = client
        .get_usage_query_execution_id_results(&id)
        .await
        .unwrap();
    assert_eq!(result.query_status, Some(QueryStatus::Complete));
    let err: UsageError = client
        .get_oauth_client_usage_summary("c-1", Some("30"))
        .await
        .unwrap_err();
    assert_eq!(
        err.body().unwrap().code.as_deref(),
        Some("invalid.query.param.value")
    );
    submit.assert_async().await;
    poll.assert_async().await;
    summary.assert_async().await;

    // A different body does not match the typed body matcher.
    let other = ApiUsageOrganizationQuery::new("2020-01/2020-02");
    let err: UsageError = client.post_usage_query(&other).await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "httpmock answers 404 when no mock matches"
    );
}

/// The successor API's mocks: a job submitted, polled and paged by cursor through the
/// typed query-parameter matchers.
#[tokio::test]
async fn typed_mocks_of_the_jobs_api() {
    use usage_client::models::{
        JobQueryStatus, OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest,
        OrganizationPublicApiUsageResultsResponse, OrganizationUsageQueryResponse,
    };
    let server = MockServer::start_async().await;
    let query: OrganizationPublicApiUsageQueryRequest =
        serde_json::from_value(serde_json::json!({"interval": "2026-10-01/2026-11-01"})).unwrap();
    let submit = server.post_usage_aggregates_query_jobs(|when, then| {
        when.body(&query);
        then.accepted(&OrganizationUsageQueryResponse {
            id: "job-1".into(),
            name: None,
            results_uri: None,
            self_uri: None,
        });
    });
    let row = |n: i64| OrganizationPublicApiUsage {
        request_count: Some(n),
        ..Default::default()
    };
    let second = server.get_usage_aggregates_query_job(|when, then| {
        when.job_id("job-1").after("c1").page_size(1);
        then.ok(&OrganizationPublicApiUsageResultsResponse {
            entities: vec![row(2)],
            error_body: None,
            name: None,
            next_uri: None,
            query_status: JobQueryStatus::Succeeded,
            self_uri: None,
        });
    });
    let client = usage_tests::bare_client(&server.base_url());
    let id = client
        .post_usage_aggregates_query_jobs(&query)
        .await
        .unwrap()
        .id;
    let page = client
        .get_usage_aggregates_query_job(&id, Some("c1"), Some(1))
        .await
        .unwrap();
    assert_eq!(page.query_status, JobQueryStatus::Succeeded);
    assert_eq!(page.entities[0].request_count, Some(2));
    submit.assert_async().await;
    second.assert_async().await;
}
