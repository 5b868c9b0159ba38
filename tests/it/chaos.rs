//! The chaos run: 1,000 concurrent jobs through one client against usage-fake, with about
//! 10 % of all API answers faulted at random (seeded): 5xx, 429s (one with a Retry-After
//! that overflows a u64), broken connections, stalls, redirects, bodies over the client's
//! cap; token lifetimes that overflow; tokens revoked mid-run and a few queries that fail.
//! Run explicitly (CI does):
//!
//!     cargo test -p usage-tests --test it chaos:: -- --ignored --nocapture

use std::collections::HashMap;
use std::time::{Duration, Instant};

use usage_client::models::{ApiUsageOrganizationQuery, ApiUsageQueryResult, OrganizationGroupBy};
use usage_client::{RetryPolicy, UsageError};
use usage_ext::{Error, PollPolicy, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Fault, Operation, Outcome};

const JOBS: usize = 1_000;
/// `Retry-After` past `u64::MAX`'s reach of arithmetic: a wait no client may take.
const OVERFLOW: &str = "18446744073709551615";
/// The client's cap in this run; `Fault::Oversized` answers are larger.
const CAP: u64 = 256 * 1024;

enum JobEnd {
    Rows(String, ApiUsageQueryResult),
    AfterSubmit(String, Error),
    Submit(Error),
}

async fn job(queries: UsageQueries) -> JobEnd {
    let query = ApiUsageOrganizationQuery::new("2026-10-01/2026-11-01").with_group_by([
        OrganizationGroupBy::TemplateUri,
        OrganizationGroupBy::HttpMethod,
    ]);
    let execution = match queries.submit_organization(&query).await {
        Ok(execution) => execution,
        Err(e) => return JobEnd::Submit(e),
    };
    match execution.wait(&queries).await {
        Ok(result) => JobEnd::Rows(execution.execution_id, result),
        Err(e) => JobEnd::AfterSubmit(execution.execution_id, e),
    }
}

/// A submission may fail only in the ways a fault explains; no other kind is expected.
fn expected_submit_failure(error: &Error) -> bool {
    // A 5xx, a broken connection, a stall or an oversized answer after the POST was sent:
    // the query may have started (`OutcomeUnknown`). Or a redirect, or a rate limit.
    matches!(
        error,
        Error::Submit(
            UsageError::OutcomeUnknown { .. }
                | UsageError::Redirected { .. }
                | UsageError::RateLimited { .. }
        )
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos run, about half a minute: cargo test -p usage-tests --test it chaos:: -- --ignored"]
async fn a_thousand_jobs_under_random_faults() {
    let started = Instant::now();
    let fake = FakeService::start(FakeConfig {
        rows: 20,
        completion: Completion::AfterPolls(3),
        seed: 2026,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    fake.set_failed_rate(0.02);
    fake.fault_randomly(
        0.10,
        7,
        &[
            Operation::PostUsageQuery,
            Operation::GetUsageQueryExecutionIdResults,
        ],
        vec![
            Fault::rate_limited(1),
            Fault::status(429),
            Fault::status(500),
            Fault::status(502),
            Fault::status(503),
            Fault::status(504),
            Fault::DropConnection,
            Fault::Delay(Duration::from_secs(6)),
            Fault::Status {
                status: 429,
                retry_after: Some(OVERFLOW.into()),
            },
            Fault::Redirect {
                status: 307,
                location: "http://127.0.0.2:9/elsewhere".into(),
            },
            Fault::Oversized(CAP as usize + 1),
        ],
    );
    // Both tokens of the run come with lifetimes that overflow `Instant` arithmetic.
    fake.fault_nth(Operation::Token, 1, Fault::ExpiresIn(OVERFLOW.into()));
    fake.fault_nth(Operation::Token, 2, Fault::ExpiresIn("1e19".into()));
    let client = usage_tests::fake_client(&fake)
        // Generous for a debug build on two cores with a thousand connections; the delay
        // fault below is well past it.
        .timeout(Duration::from_secs(5))
        .max_response_bytes(CAP)
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(300))
                .with_max_elapsed(Duration::from_secs(30))
                .with_max_retry_after(Duration::from_secs(5))
                .with_jitter(true),
        )
        .jitter_seed(11)
        .build()
        .unwrap();
    let queries = UsageQueries::new(client)
        .with_policy(
            PollPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_factor(1.5)
                .with_max_delay(Duration::from_millis(200))
                .with_max_wait(Duration::from_secs(60)),
        )
        .expect("a valid poll policy");

    let mut jobs = tokio::task::JoinSet::new();
    for _ in 0..JOBS {
        jobs.spawn(job(queries.clone()));
    }
    // Revoke every token once the run is under way: each request in flight gets a 401.
    for _ in 0..2_000 {
        if fake.requests(Operation::GetUsageQueryExecutionIdResults) >= 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fake.expire_tokens();

    let mut ends = Vec::with_capacity(JOBS);
    while let Some(joined) = jobs.join_next().await {
        ends.push(joined.expect("a job panicked"));
    }
    assert_eq!(ends.len(), JOBS);

    let (mut verified, mut failed, mut submit_errors, mut poll_errors) = (0, 0, 0, 0);
    let mut final_poll_errors = 0;
    for end in &ends {
        match end {
            JobEnd::Rows(id, result) => {
                let (body, outcome) = fake.expected_result(id).expect("the fake knows it");
                assert_eq!(outcome, Outcome::Complete, "{id}");
                let expected: ApiUsageQueryResult = serde_json::from_slice(&body).unwrap();
                assert_eq!(
                    result.results, expected.results,
                    "rows of {id} differ from what the fake sent"
                );
                verified += 1;
            }
            JobEnd::AfterSubmit(id, error) => {
                assert_eq!(error.execution_id(), Some(id.as_str()), "{error}");
                match error {
                    Error::FailureState { .. } => {
                        assert_eq!(fake.expected_result(id).unwrap().1, Outcome::Failed, "{id}");
                        failed += 1;
                    }
                    Error::Poll { source, .. } if source.is_transient() => poll_errors += 1,
                    Error::PollsFailing { source, .. } if source.is_transient() => poll_errors += 1,
                    // Faults no later poll can cure: a redirect, a body over the cap.
                    Error::Poll {
                        source: UsageError::Redirected { .. } | UsageError::ResponseTooLarge { .. },
                        ..
                    } => final_poll_errors += 1,
                    other => panic!("unexpected error kind for {id}: {other:?}"),
                }
            }
            JobEnd::Submit(error) => {
                assert!(
                    expected_submit_failure(error),
                    "unexpected submission error: {error:?}"
                );
                submit_errors += 1;
            }
        }
    }

    let served = fake.faults_served();
    let mut by_kind: HashMap<String, usize> = HashMap::new();
    for (_, fault) in &served {
        let kind = match fault {
            Fault::Status {
                status,
                retry_after,
            } => format!("{status}{}", if retry_after.is_some() { "+RA" } else { "" }),
            other => format!("{other:?}")
                .split(['(', ' '])
                .next()
                .unwrap()
                .to_string(),
        };
        *by_kind.entry(kind).or_default() += 1;
    }
    let posts = fake.requests(Operation::PostUsageQuery) as usize;
    let post_429s = served
        .iter()
        .filter(|(op, f)| {
            *op == Operation::PostUsageQuery && matches!(f, Fault::Status { status: 429, .. })
        })
        .count();
    let post_401s = fake.unauthorized(Operation::PostUsageQuery) as usize;
    // A POST is sent again only after a 429 or a 401 (refused before acting): never after
    // a 5xx, a broken connection or a timeout, where the query may already have started.
    assert!(
        posts <= JOBS + post_429s + post_401s,
        "{posts} POSTs for {JOBS} jobs with {post_429s} 429s and {post_401s} 401s: \
         a POST was replayed after an ambiguous failure"
    );
    assert_eq!(
        fake.requests(Operation::Token),
        2,
        "one token, and one renewal after the revocation shared by every request"
    );
    let api_requests = fake.total_requests() - fake.requests(Operation::Token);
    let share = served.len() as f64 / api_requests as f64;
    assert!((0.05..0.15).contains(&share), "fault share {share}");
    // Every failed submission is explained by a fault the fake served on a POST: anything
    // but a 429 with a wait the client takes.
    let post_ambiguous = served
        .iter()
        .filter(|(op, f)| {
            *op == Operation::PostUsageQuery
                && !matches!(f, Fault::Status { status: 429, retry_after } if retry_after.as_deref() != Some(OVERFLOW))
        })
        .count();
    let final_poll_faults = served
        .iter()
        .filter(|(op, f)| {
            *op == Operation::GetUsageQueryExecutionIdResults
                && matches!(f, Fault::Redirect { .. } | Fault::Oversized(_))
        })
        .count();
    assert!(
        final_poll_errors <= final_poll_faults,
        "{final_poll_errors} polls ended by a redirect or an oversized body, {final_poll_faults} served"
    );
    assert!(
        submit_errors <= post_ambiguous,
        "{submit_errors} submission errors, {post_ambiguous} faults to explain them"
    );
    assert_eq!(
        verified + failed + submit_errors + poll_errors + final_poll_errors,
        JOBS
    );
    // Three of the eleven fault kinds end a job for good (a redirect, an oversized body, a
    // Retry-After no client waits for), so about a fifth of the jobs meet one.
    assert!(verified >= JOBS * 7 / 10, "most jobs complete: {verified}");
    assert!(failed > 0, "a few queries fail");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
    let mut kinds: Vec<_> = by_kind.into_iter().collect();
    kinds.sort();
    println!(
        "chaos: {JOBS} jobs in {:.1} s: {verified} complete with verified rows, {failed} Failed, \
         {submit_errors} submission errors ({post_ambiguous} ambiguous faults on POST), {poll_errors} transient and {final_poll_errors} final poll errors; {} of {api_requests} API answers faulted \
         ({:.1} %: {kinds:?}); {posts} POSTs ({post_429s} 429s, {post_401s} 401s on POST); {} token requests; 0 panics",
        elapsed.as_secs_f64(),
        served.len(),
        share * 100.0,
        fake.requests(Operation::Token),
    );
}

/// The outage a wait must outlive: 1,000 concurrent waits on one client while a fifth of
/// the polls fail at random, 10 % with a 5xx and 10 % with 429 `Retry-After: 1`, on the
/// default poll schedule. Every job completes, with the fake's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos run, about ten seconds: cargo test -p usage-tests --test it chaos:: -- --ignored"]
async fn a_thousand_waits_through_random_5xx_and_429_polls_all_complete() {
    let started = Instant::now();
    let fake = FakeService::start(FakeConfig {
        rows: 5,
        completion: Completion::AfterPolls(3),
        seed: 27,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let mut kinds: Vec<Fault> = [500, 502, 503, 504].map(Fault::status).into();
    kinds.extend((0..4).map(|_| Fault::rate_limited(1)));
    fake.fault_randomly(
        0.20,
        9,
        &[Operation::GetUsageQueryExecutionIdResults],
        kinds,
    );
    let client = usage_tests::fake_client(&fake)
        .timeout(Duration::from_secs(5))
        .jitter_seed(13)
        .build()
        .unwrap();
    let queries = UsageQueries::new(client);
    let mut jobs = tokio::task::JoinSet::new();
    for _ in 0..JOBS {
        jobs.spawn(job(queries.clone()));
    }
    let mut complete = 0;
    while let Some(joined) = jobs.join_next().await {
        match joined.expect("a job panicked") {
            JobEnd::Rows(id, result) => {
                let (body, _) = fake.expected_result(&id).expect("the fake knows it");
                let expected: ApiUsageQueryResult = serde_json::from_slice(&body).unwrap();
                assert_eq!(result.results, expected.results, "rows of {id}");
                complete += 1;
            }
            JobEnd::AfterSubmit(id, error) => panic!("job {id} ended: {error}"),
            JobEnd::Submit(error) => panic!("a submission failed: {error}"),
        }
    }
    assert_eq!(complete, JOBS);
    let served = fake.faults_served();
    let polls = fake.requests(Operation::GetUsageQueryExecutionIdResults);
    let share = served.len() as f64 / polls as f64;
    assert!((0.15..0.25).contains(&share), "fault share {share}");
    println!(
        "chaos: {JOBS} waits in {:.1} s, all complete; {} of {polls} polls faulted ({:.1} %)",
        started.elapsed().as_secs_f64(),
        served.len(),
        share * 100.0
    );
}
