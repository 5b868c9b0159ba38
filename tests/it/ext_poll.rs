//! usage-ext against usage-fake: poll outcomes, validation, resume and cancellation.
//! Waits go through a manual clock (exact, instant) while requests go to the real fake on
//! 127.0.0.1; the cancellation test uses real time, bounded to a fraction of a second.

use std::sync::Arc;
use std::time::Duration;

use usage_client::RetryPolicy;
use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ClientGroupBy, OrganizationGroupBy,
};
use usage_ext::{Error, Execution, PollPolicy, PollStatus, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Fault, Operation, Outcome};
use usage_tests::{ManualClock, fake_client, steady_polls};

const ORG_RESULTS: Operation = Operation::GetUsageQueryExecutionIdResults;
const SERIES: usize = usage_fake::ORG_SERIES;
/// The integrations' 16 endpoints and the 3 more of the own client's usage queries.
const ENDPOINTS: usize = 19;

async fn fake(completion: Completion, outcome: Outcome) -> FakeService {
    FakeService::start(FakeConfig {
        completion,
        outcome,
        // Every client × user × endpoint of the fake's org: each client calls each of the
        // 16 endpoints, so the counts below follow from the groupings.
        rows: SERIES,
        ..FakeConfig::default()
    })
    .await
    .unwrap()
}

fn queries(fake: &FakeService, clock: &Arc<ManualClock>, retry: RetryPolicy) -> UsageQueries {
    let client = fake_client(fake)
        .clock(clock.clone())
        .retry_policy(retry.with_jitter(false))
        .build()
        .unwrap();
    UsageQueries::new(client)
        .with_policy(policy())
        .expect("a valid poll policy")
}

/// 1 s, 2 s, 4 s, 4 s, ...; at most 60 s.
fn policy() -> PollPolicy {
    PollPolicy::default()
        .with_initial_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(4))
        .with_max_wait(Duration::from_secs(60))
}

fn org_query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z").with_group_by([
        OrganizationGroupBy::TemplateUri,
        OrganizationGroupBy::HttpMethod,
    ])
}

fn secs(d: &[Duration]) -> Vec<u64> {
    d.iter().map(Duration::as_secs).collect()
}

#[tokio::test]
async fn completes_at_poll_k_with_exactly_k_plus_1_gets() {
    for k in [0u32, 1, 3] {
        let fake = fake(Completion::AfterPolls(k), Outcome::Complete).await;
        let clock = ManualClock::new();
        let q = queries(&fake, &clock, RetryPolicy::default());
        let mut events = Vec::new();
        let result = q
            .submit_organization(&org_query())
            .await
            .unwrap()
            .wait_with(&q, |e| events.push(e.clone()))
            .await
            .unwrap();
        assert_eq!(result.results.len(), ENDPOINTS, "k={k}");
        assert_eq!(fake.requests(ORG_RESULTS), u64::from(k) + 1, "k={k}");
        assert_eq!(fake.requests(Operation::PostUsageQuery), 1);
        // Returned right after the completing poll: no wait after it.
        let expected: Vec<u64> = [1, 2, 4, 4][..=k as usize].to_vec();
        assert_eq!(secs(&clock.sleeps()), expected, "k={k}");
        assert_eq!(events.len(), k as usize + 1);
        assert_eq!(events.last().unwrap().status, PollStatus::Complete);
        assert_eq!(events.last().unwrap().next_delay, Duration::ZERO);
        assert!(
            events[..k as usize]
                .iter()
                .all(|e| e.status == PollStatus::Running)
        );
        assert_eq!(
            events.iter().map(|e| e.poll).collect::<Vec<_>>(),
            (1..=k + 1).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn failed_stops_on_the_first_failed_poll() {
    let fake = fake(Completion::AfterPolls(2), Outcome::Failed).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock, RetryPolicy::default());
    let execution = q.submit_organization(&org_query()).await.unwrap();
    let err = execution.wait(&q).await.unwrap_err();
    match &err {
        Error::FailureState {
            execution_id,
            result,
        } => {
            assert_eq!(execution_id, &execution.execution_id);
            assert_eq!(result.query_status.as_ref().unwrap().as_str(), "Failed");
        }
        other => panic!("expected FailureState, got {other:?}"),
    }
    assert_eq!(err.execution_id(), Some(execution.execution_id.as_str()));
    assert_eq!(fake.requests(ORG_RESULTS), 3);
}

#[tokio::test]
async fn the_deadline_ends_the_wait_with_id_elapsed_and_polls() {
    let fake = fake(Completion::AfterPolls(1_000), Outcome::Complete).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock, RetryPolicy::default())
        .with_policy(policy().with_max_wait(Duration::from_secs(10)))
        .expect("a valid poll policy");
    let execution = q.submit_organization(&org_query()).await.unwrap();
    let err = execution.wait(&q).await.unwrap_err();
    match err {
        Error::ExceededMaxWait {
            execution_id,
            elapsed,
            polls,
            last_error,
        } => {
            assert_eq!(execution_id, execution.execution_id);
            // Waits 1 + 2 + 4 = 7 s; the next 4 s would end at 11 s, so it is cut to
            // 2.9 s: one more poll fits, 100 ms (`LAST_POLL_ROOM`) before the deadline.
            assert_eq!(elapsed, Duration::from_millis(9_900));
            assert_eq!(polls, 4);
            assert_eq!(fake.requests(ORG_RESULTS), 4);
            assert!(last_error.is_none(), "{last_error:?}");
        }
        other => panic!("expected ExceededMaxWait, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unlisted_status_keeps_polling_until_complete() {
    let fake = fake(Completion::AfterPolls(1), Outcome::Complete).await;
    fake.fault_nth(ORG_RESULTS, 1, Fault::UnknownValues);
    let clock = ManualClock::new();
    let q = queries(&fake, &clock, RetryPolicy::default());
    let mut statuses = Vec::new();
    let result = q
        .submit_organization(&org_query())
        .await
        .unwrap()
        .wait_with(&q, |e| statuses.push(e.status.clone()))
        .await
        .unwrap();
    assert_eq!(
        statuses,
        [PollStatus::Unlisted("Queued".into()), PollStatus::Complete]
    );
    assert_eq!(result.results.len(), ENDPOINTS);
}

#[tokio::test]
async fn a_429_with_retry_after_7_delays_the_next_poll_at_least_7_s() {
    // Once through the client's retry (which honours Retry-After), once with client
    // retries off, where the poller itself must wait.
    for retry in [RetryPolicy::default(), RetryPolicy::disabled()] {
        let fake = fake(Completion::AfterPolls(3), Outcome::Complete).await;
        fake.fault_nth(ORG_RESULTS, 1, Fault::rate_limited(7));
        let clock = ManualClock::new();
        let q = queries(&fake, &clock, retry.clone());
        let result = q.organization_usage(&org_query()).await.unwrap();
        assert_eq!(result.results.len(), ENDPOINTS);
        let sleeps = secs(&clock.sleeps());
        assert_eq!(sleeps[0], 1, "{sleeps:?}");
        assert!(
            sleeps[1] >= 7,
            "the wait after the 429 must be >= 7 s: {sleeps:?}"
        );
        // 1 rate-limited + 4 real polls (Running x3, Complete).
        assert_eq!(fake.requests(ORG_RESULTS), 5, "{retry:?}");
    }
}

#[tokio::test]
async fn a_wait_resumes_from_a_saved_execution_id() {
    let fake = fake(Completion::AfterPolls(2), Outcome::Complete).await;
    let clock = ManualClock::new();
    let saved = {
        let q = queries(&fake, &clock, RetryPolicy::default());
        let execution = q.submit_organization(&org_query()).await.unwrap();
        serde_json::to_string(&execution).unwrap()
    };
    // A new process: a new client, the execution rebuilt from what was saved.
    let restored: Execution = serde_json::from_str(&saved).unwrap();
    let q = queries(&fake, &ManualClock::new(), RetryPolicy::default());
    let again = Execution::organization(restored.execution_id.clone());
    assert_eq!(again, restored);
    let result = again.wait(&q).await.unwrap();
    assert_eq!(result.results.len(), ENDPOINTS);
    assert_eq!(
        fake.requests(Operation::PostUsageQuery),
        1,
        "not submitted again"
    );
}

#[tokio::test]
async fn client_query_and_summary_flows() {
    let fake = fake(Completion::AfterPolls(1), Outcome::Complete).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock, RetryPolicy::default());
    let query =
        ApiUsageClientQuery::new("2026-10/2026-11").with_group_by([ClientGroupBy::TemplateUri]);
    let result = q
        .client_usage(usage_fake::OAUTH_CLIENTS[0].0, &query)
        .await
        .unwrap();
    assert_eq!(result.results.len(), 16, "an integration's endpoints");
    assert!(
        result
            .results
            .iter()
            .all(|r| r.template_uri.as_deref().is_some_and(|t| !t.is_empty()))
    );
    let summary = q
        .client_summary(usage_fake::OAUTH_CLIENTS[0].0, Some(30))
        .await
        .unwrap();
    // 30 days, today's without data yet (the service lags a day): 29 days of 16 rows, an
    // integration's endpoints.
    assert_eq!(summary.results.len(), 16 * 29);
    assert_eq!(fake.requests(Operation::PostOauthClientUsageQuery), 1);
    assert_eq!(fake.requests(Operation::GetOauthClientUsageSummary), 1);
    assert_eq!(fake.requests(Operation::GetOauthClientUsageQueryResult), 4);
    // A client execution is not readable as another client's.
    let err = Execution::client("oauth-client-2", "nope")
        .wait(&q)
        .await
        .unwrap_err();
    assert_eq!(err.execution_id(), Some("nope"));
    match err {
        Error::Poll { source, .. } => assert_eq!(source.status(), Some(404)),
        other => panic!("expected a typed poll error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_validation_rule_refuses_before_any_request() {
    let fake = fake(Completion::AfterPolls(0), Outcome::Complete).await;
    let clock = ManualClock::new();
    let q = queries(&fake, &clock, RetryPolicy::default());
    let cases: Vec<(&str, Result<Execution, Error>)> = vec![
        (
            "no `/`",
            q.submit_organization(&ApiUsageOrganizationQuery::new("2026-10-01"))
                .await,
        ),
        (
            "does not start before",
            q.submit_organization(&ApiUsageOrganizationQuery::new("2026-11-01/2026-10-01"))
                .await,
        ),
        (
            "bad start",
            q.submit_client("c", &ApiUsageClientQuery::new("last week/2026-10-01"))
                .await,
        ),
        (
            "cannot group by UserId",
            q.submit_client(
                "c",
                &ApiUsageClientQuery::new("2026-10/2026-11")
                    .with_group_by([ClientGroupBy::from("UserId")]),
            )
            .await,
        ),
        (
            "positive whole number",
            q.submit_client_summary("c", Some(0)).await,
        ),
        ("clientId \"\"", q.submit_client_summary("", None).await),
        (
            "clientId \"..\"",
            q.submit_client("..", &ApiUsageClientQuery::new("2026-10/2026-11"))
                .await,
        ),
    ];
    for (why, outcome) in cases {
        match outcome {
            Err(err @ Error::Invalid(_)) => {
                assert!(err.to_string().contains(why), "{why}: {err}");
                assert!(err.to_string().contains("nothing was sent"), "{err}");
            }
            other => panic!("{why}: expected Invalid, got {other:?}"),
        }
    }
    for execution in [
        Execution::organization(""),
        Execution::client(" ", "e"),
        Execution::organization("."),
    ] {
        assert!(matches!(execution.wait(&q).await, Err(Error::Invalid(_))));
    }
    assert_eq!(
        fake.total_requests(),
        0,
        "nothing reached the fake, not even a token request"
    );
}

#[tokio::test]
async fn the_fake_refuses_what_validation_would_have_caught() {
    // The same inputs sent with the bare client reach the fake, which answers 400 like the
    // real service: the two agree on what is invalid.
    let fake = fake(Completion::AfterPolls(0), Outcome::Complete).await;
    let client = fake_client(&fake).build().unwrap();
    let bad = client
        .post_usage_query(&ApiUsageOrganizationQuery::new("2026-11-01/2026-10-01"))
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
    assert_eq!(bad.body().unwrap().code.as_deref(), Some("invalid.date"));
    let bad = client
        .post_oauth_client_usage_query(
            usage_fake::OAUTH_CLIENTS[0].0,
            &ApiUsageClientQuery::new("2026-10/2026-11")
                .with_group_by([ClientGroupBy::from("UserId")]),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.body().unwrap().code.as_deref(), Some("invalid.value"));
    let bad = client
        .get_oauth_client_usage_summary(usage_fake::OAUTH_CLIENTS[0].0, Some("0"))
        .await
        .unwrap_err();
    assert_eq!(
        bad.body().unwrap().code.as_deref(),
        Some("invalid.query.param.value")
    );
    let unlisted = ApiUsageOrganizationQuery::new("2026-10/2026-11")
        .with_metrics([usage_client::models::Metric::from("Status999")]);
    let bad = client.post_usage_query(&unlisted).await.unwrap_err();
    let body = bad.body().unwrap();
    assert_eq!(body.code.as_deref(), Some("invalid.value"));
    assert!(
        body.message.as_deref().unwrap().contains("Status999"),
        "{bad}"
    );
    assert_eq!(fake.executions(), 0);
}

#[tokio::test]
async fn dropping_the_wait_stops_polling() {
    let fake = fake(Completion::AfterPolls(1_000_000), Outcome::Complete).await;
    let client = fake_client(&fake).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(steady_polls(
            Duration::from_millis(10),
            Duration::from_secs(30),
        ))
        .expect("a valid poll policy");
    let execution = q.submit_organization(&org_query()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let wait = execution.wait_with(&q, move |e| {
        let _ = tx.send(e.poll);
    });
    tokio::select! {
        _ = wait => panic!("the wait cannot finish"),
        _ = async { while rx.recv().await.is_some_and(|poll| poll < 3) {} } => {}
    }
    // The wait future is dropped here.
    let polls_at_drop = fake.requests(ORG_RESULTS);
    assert!(polls_at_drop >= 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fake.requests(ORG_RESULTS),
        polls_at_drop,
        "no poll after the drop"
    );
}
