//! The fault suite: the client's safety promises against a server that sends what it likes
//! (`usage_tests::hostile`). One section per promise; where a promise names a number
//! (requests sent, a time bound, bytes read), the test asserts it. The "Failure behaviour"
//! table in `crates/usage-client/README.md` names these tests row by row.

use std::time::{Duration, Instant};

use serde_json::json;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_client::{AuthError, Client, ClientBuilder, RetryPolicy, UsageError};
use usage_ext::{Error, Execution, PollPolicy, PollStatus, UsageQueries};
use usage_tests::hostile::{Act, Hostile, Logged, dead_port};

const CLIENT_ID: &str = "hostile-client";
const SECRET: &str = "s3cr3t-Do-Not-Print";
const TOKEN: &str = "/oauth/token";
const SUBMIT: &str = "/api/v2/usage/query";
const RESULTS: &str = "/api/v2/usage/query/exec-1/results";

fn token_ok() -> Act {
    Act::json(
        200,
        json!({"access_token": "tok", "token_type": "bearer", "expires_in": 86_400}),
    )
}

/// A server that issues tokens and answers every API request with `answer`.
async fn with_token(answer: Act) -> Hostile {
    Hostile::start(move |req, _| match req.path() {
        TOKEN => token_ok(),
        _ => answer.clone(),
    })
    .await
}

fn running() -> Act {
    Act::json(200, json!({"queryStatus": "Running"}))
}

fn submitted() -> Act {
    Act::json(202, json!({"executionId": "exec-1"}))
}

fn tokens(earlier: &[Logged]) -> usize {
    earlier.iter().filter(|l| l.path() == TOKEN).count()
}

/// Fast retries, so that a test about counts does not wait for backoffs.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

fn builder(server: &Hostile) -> ClientBuilder {
    Client::builder()
        .base_url(&server.url())
        .client_credentials(CLIENT_ID, SECRET)
        .no_proxy()
        .retry_policy(fast_retries())
        .jitter_seed(3)
}

fn query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z")
}

async fn submit(client: &Client) -> Result<(), UsageError> {
    client.post_usage_query(&query()).await?;
    Ok(())
}

async fn poll(client: &Client) -> Result<(), UsageError> {
    client
        .get_usage_query_execution_id_results("exec-1")
        .await?;
    Ok(())
}

fn queries(client: Client, max_wait: Duration) -> UsageQueries {
    UsageQueries::new(client)
        .with_policy(PollPolicy::default().with_max_wait(max_wait))
        .expect("a valid poll policy")
}

// ---------------------------------------------------------------------------------------
// 0. One pipeline: every fault, against each of the eleven operations, ends the same way.

type Call = for<'a> fn(&'a Client) -> usage_client::BoxFuture<'a, Result<(), UsageError>>;

/// The eleven operations, each called with valid arguments; the answer's value is dropped.
fn every_operation() -> Vec<(&'static str, Call, bool)> {
    use usage_client::models::*;
    fn done<T>(r: Result<T, UsageError>) -> Result<(), UsageError> {
        r.map(drop)
    }
    vec![
        (
            "postUsageQuery",
            |c| Box::pin(async move { done(c.post_usage_query(&query()).await) }),
            true,
        ),
        (
            "getUsageQueryExecutionIdResults",
            |c| {
                Box::pin(
                    async move { done(c.get_usage_query_execution_id_results("exec-1").await) },
                )
            },
            false,
        ),
        (
            "postOauthClientUsageQuery",
            |c| {
                Box::pin(async move {
                    let q = ApiUsageClientQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z");
                    done(c.post_oauth_client_usage_query("client-1", &q).await)
                })
            },
            true,
        ),
        (
            "getOauthClientUsageQueryResult",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_oauth_client_usage_query_result("client-1", "exec-1")
                            .await,
                    )
                })
            },
            false,
        ),
        (
            "getOauthClientUsageSummary",
            |c| {
                Box::pin(
                    async move { done(c.get_oauth_client_usage_summary("client-1", None).await) },
                )
            },
            false,
        ),
        (
            "postUsageAggregatesQueryJobs",
            |c| {
                Box::pin(async move {
                    let q: OrganizationPublicApiUsageQueryRequest =
                        serde_json::from_value(json!({"interval": "2026-10-01/2026-10-08"}))
                            .unwrap();
                    done(c.post_usage_aggregates_query_jobs(&q).await)
                })
            },
            true,
        ),
        (
            "getUsageAggregatesQueryJob",
            |c| {
                Box::pin(async move {
                    done(c.get_usage_aggregates_query_job("job-1", None, None).await)
                })
            },
            false,
        ),
        (
            "postUsageClientClientIdAggregatesQueryJobs",
            |c| {
                Box::pin(async move {
                    let q: ClientPublicApiUsageQueryRequest =
                        serde_json::from_value(json!({"interval": "2026-10-01/2026-10-08"}))
                            .unwrap();
                    done(
                        c.post_usage_client_client_id_aggregates_query_jobs("client-1", &q)
                            .await,
                    )
                })
            },
            true,
        ),
        (
            "getUsageClientClientIdAggregatesQueryJob",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_usage_client_client_id_aggregates_query_job(
                            "client-1", "job-1", None, None,
                        )
                        .await,
                    )
                })
            },
            false,
        ),
        (
            "postUsageSimplesearch",
            |c| {
                Box::pin(async move {
                    let q: ApiUsageSimpleSearch = serde_json::from_value(
                        json!({"interval": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z"}),
                    )
                    .unwrap();
                    done(c.post_usage_simplesearch(&q).await)
                })
            },
            true,
        ),
        (
            "getUsageSimplesearchExecutionIdResults",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_usage_simplesearch_execution_id_results("exec-1", None, None)
                            .await,
                    )
                })
            },
            false,
        ),
    ]
}

/// What a fault must give, for a GET and for a POST (which may have started a query).
#[derive(Debug, Clone, Copy)]
enum Expect {
    Redirected,
    TooLarge,
    Status(u16),
    Transport,
    Decode,
}

fn check(expect: Expect, post: bool, err: &UsageError) -> bool {
    let inner = match err {
        UsageError::OutcomeUnknown { cause } if post => &**cause,
        other => other,
    };
    let typed = match expect {
        Expect::Redirected => matches!(inner, UsageError::Redirected { status: 302, .. }),
        Expect::TooLarge => matches!(inner, UsageError::ResponseTooLarge { .. }),
        Expect::Status(s) => inner.status() == Some(s) && inner.body().is_some(),
        Expect::Transport => {
            matches!(
                inner,
                UsageError::Network { .. } | UsageError::Timeout { .. }
            )
        }
        Expect::Decode => matches!(inner, UsageError::Decode { .. }),
    };
    // A POST is `OutcomeUnknown` exactly when it may have reached the service and got no
    // clear answer: a 5xx, a broken or endless answer; never a redirect or a 4xx.
    let unknown = matches!(err, UsageError::OutcomeUnknown { .. });
    let should_be_unknown = post
        && matches!(
            expect,
            Expect::TooLarge | Expect::Transport | Expect::Status(500..=599)
        );
    typed && unknown == should_be_unknown
}

#[tokio::test]
async fn every_fault_gives_every_operation_the_same_typed_error_and_retries() {
    let faults: Vec<(&str, Act, Expect, usize, usize)> = vec![
        // (fault, answer, expected error, sends of a GET, sends of a POST)
        (
            "redirect",
            Act::redirect(302, "http://127.0.0.2:1/elsewhere"),
            Expect::Redirected,
            1,
            1,
        ),
        (
            "endless body",
            Act::EndlessChunked { status: 200 },
            Expect::TooLarge,
            1,
            1,
        ),
        (
            "Content-Length over the cap",
            Act::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n".to_vec()),
            Expect::TooLarge,
            1,
            1,
        ),
        (
            "endless error body",
            Act::EndlessChunked { status: 503 },
            Expect::Status(503),
            4,
            1,
        ),
        (
            "HTML 502",
            Act::Reply {
                status: 502,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<html>Bad Gateway</html>".to_vec(),
            },
            Expect::Status(502),
            4,
            1,
        ),
        (
            "429 with Retry-After",
            Act::json(429, json!({"status": 429})).with("retry-after", "0"),
            Expect::Status(429),
            4,
            4,
        ),
        (
            "400",
            Act::json(400, json!({"status": 400, "code": "bad.request"})),
            Expect::Status(400),
            1,
            1,
        ),
        (
            "closed mid-body",
            Act::CloseMidBody {
                status: 200,
                declared: 100,
                sent: b"{\"a\":".to_vec(),
            },
            Expect::Transport,
            4,
            1,
        ),
        ("stall", Act::Stall, Expect::Transport, 4, 1),
        (
            "not JSON",
            Act::Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"<html>ok</html>".to_vec(),
            },
            Expect::Decode,
            1,
            1,
        ),
    ];
    for (fault, act, expect, get_sends, post_sends) in faults {
        let server = with_token(act).await;
        let client = builder(&server)
            .timeout(Duration::from_millis(200))
            .max_response_bytes(MIB)
            .build()
            .unwrap();
        for (name, call, post) in every_operation() {
            let before = server.log().iter().filter(|l| l.path() != TOKEN).count();
            let err = call(&client).await.unwrap_err();
            assert!(check(expect, post, &err), "{fault}, {name}: {err:?}");
            let sent = server.log().iter().filter(|l| l.path() != TOKEN).count() - before;
            let want = if post { post_sends } else { get_sends };
            assert_eq!(sent, want, "{fault}, {name}: sends");
            // Boxed as most programs' `main` does, the error still names its real cause.
            let boxed: Box<dyn std::error::Error> = Box::new(err);
            assert!(
                !boxed.to_string().contains("no.url.provided"),
                "{fault}, {name}: {boxed}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_boxed_as_dyn_error_names_its_cause() {
    // Nothing listens: the natural `?` into `Box<dyn Error>` says so.
    let dead = dead_port().await;
    let client = Client::builder()
        .base_url(&format!("http://{dead}"))
        .access_token("t")
        .no_proxy()
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    async fn run(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
        client.post_usage_query(&query()).await?;
        Ok(())
    }
    let err = run(&client).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("network error"), "{text}");
    assert!(
        text.contains("4 attempts"),
        "a refused connection is retried: {text}"
    );
    assert!(!text.contains("no.url.provided"), "{text}");
    let mut chain = err.source();
    let mut reqwest_seen = false;
    while let Some(e) = chain {
        reqwest_seen |= e.downcast_ref::<reqwest::Error>().is_some();
        chain = e.source();
    }
    assert!(
        reqwest_seen,
        "the HTTP stack's error stays reachable as a source"
    );
}

// ---------------------------------------------------------------------------------------
// 0b. One retry loop, with a budget: retries never stack, and errors count them all.

#[tokio::test]
async fn a_silent_login_sends_at_most_max_attempts_token_requests_and_says_so() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => Act::Stall,
        _ => submitted(),
    })
    .await;
    let client = builder(&server)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = submit(&client).await.unwrap_err();
    assert_eq!(server.count(TOKEN), 4, "max_attempts token requests: {err}");
    assert_eq!(server.count(SUBMIT), 0);
    assert!(
        matches!(
            err,
            UsageError::Auth(AuthError::Network { attempts: 4, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("4 attempts"), "{err}");
    // Through the poller, a wait costs no more: the submit fails with the same count.
    let q = queries(client, Duration::from_secs(5));
    let err = q.organization_usage(&query()).await.unwrap_err();
    assert_eq!(server.count(TOKEN), 8, "4 more for the second call: {err}");
    assert!(err.to_string().contains("4 attempts"), "{err}");
}

#[tokio::test]
async fn a_wait_on_results_answering_503_forever_sends_one_get_per_poll() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        SUBMIT => submitted(),
        _ => Act::json(503, json!({"status": 503})),
    })
    .await;
    let client = builder(&server).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(usage_tests::steady_polls(
            Duration::from_millis(5),
            Duration::from_secs(30),
        ))
        .unwrap();
    let err = q.organization_usage(&query()).await.unwrap_err();
    let Error::Poll { polls, .. } = &err else {
        panic!("expected a failed poll, got {err:?}");
    };
    assert_eq!(
        server.count(RESULTS),
        *polls as usize,
        "one GET per poll, none retried under the poller"
    );
    assert_eq!(*polls, usage_ext::MAX_CONSECUTIVE_FAILED_POLLS + 1);
    assert!(err.to_string().contains(&format!("{polls} polls")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_against_503_forever_send_at_most_1100_requests() {
    let server = Hostile::start(|_, _| Act::json(503, json!({"status": 503}))).await;
    let client = Client::builder()
        .base_url(&server.url())
        .access_token("t")
        .no_proxy()
        .retry_policy(fast_retries())
        .jitter_seed(5)
        .build()
        .unwrap();
    let calls = (0..1_000).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { poll(&client).await })
    });
    let results = futures_util::future::join_all(calls).await;
    for result in results {
        let err = result.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(503), "{err}");
    }
    let sent = server.count(RESULTS);
    // 500 tokens, 5 per retry: 100 retries for the whole client, not 3 for each call.
    assert!(
        (1_000..=1_100).contains(&sent),
        "{sent} requests for 1,000 calls"
    );
}

// ---------------------------------------------------------------------------------------
// 1. Redirects are never followed.

#[tokio::test]
async fn redirects_are_never_followed_for_api_calls() {
    let other = Hostile::start_on("127.0.0.2", |_, _| submitted()).await;
    let dead = dead_port().await;
    for status in [301u16, 302, 303, 307, 308] {
        for location in [
            format!("http://{dead}{SUBMIT}"),
            format!("{}{SUBMIT}", other.url()),
        ] {
            let to = location.clone();
            let server = Hostile::start(move |req, _| match req.path() {
                TOKEN => token_ok(),
                _ => Act::redirect(status, &to),
            })
            .await;
            let client = builder(&server).build().unwrap();
            for (err, path) in [
                (submit(&client).await.unwrap_err(), SUBMIT),
                (poll(&client).await.unwrap_err(), RESULTS),
            ] {
                match &err {
                    UsageError::Redirected {
                        status: s,
                        location: Some(l),
                    } => assert_eq!((*s, l.as_str()), (status, location.as_str())),
                    other => panic!("{status}: expected Redirected, got {other:?}"),
                }
                assert!(!err.is_transient());
                assert!(err.to_string().contains("never redirects"), "{err}");
                assert_eq!(server.count(path), 1, "{status} {path}: sent once");
            }
        }
    }
    assert!(other.log().is_empty(), "a redirect reached another origin");
}

#[tokio::test]
async fn a_redirected_login_keeps_the_credentials_home() {
    let other = Hostile::start_on("127.0.0.2", |_, _| token_ok()).await;
    let to = format!("{}{TOKEN}", other.url());
    let server = Hostile::start(move |_, _| Act::redirect(307, &to)).await;
    let client = builder(&server).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(
        matches!(err, AuthError::Redirected { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(server.count(TOKEN), 1);
    assert!(other.log().is_empty(), "credentials followed a redirect");
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::Redirected { .. })),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0);
}

// ---------------------------------------------------------------------------------------
// 2. A POST with an unknown outcome is typed, not transient, and never replayed.

#[tokio::test]
async fn a_post_with_an_unknown_outcome_is_typed_and_sent_once() {
    let cases: Vec<(&str, Act)> = vec![
        ("closed after the request", Act::Close),
        (
            "closed mid-body",
            Act::CloseMidBody {
                status: 202,
                declared: 100,
                sent: br#"{"executionId":"#.to_vec(),
            },
        ),
        ("timed out", Act::Stall),
        (
            "503",
            Act::json(503, json!({"status": 503, "code": "service.unavailable"}))
                .with("inin-correlation-id", "corr-9"),
        ),
        ("500", Act::json(500, json!({"status": 500}))),
    ];
    for (name, act) in cases {
        let server = Hostile::start(move |req, _| match req.path() {
            TOKEN => token_ok(),
            _ => act.clone(),
        })
        .await;
        let client = builder(&server)
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = submit(&client).await.unwrap_err();
        let UsageError::OutcomeUnknown { cause } = &err else {
            panic!("{name}: expected OutcomeUnknown, got {err:?}");
        };
        assert!(!err.is_transient(), "{name}");
        assert!(
            err.to_string().contains("may have started"),
            "{name}: {err}"
        );
        assert_eq!(server.count(SUBMIT), 1, "{name}: never replayed");
        if name == "503" {
            assert_eq!(err.correlation_id(), Some("corr-9"));
            assert!(err.to_string().contains("corr-9"), "{err}");
            assert!(matches!(**cause, UsageError::Api { status: 503, .. }));
        }
        if name == "timed out" {
            assert!(matches!(**cause, UsageError::Timeout { .. }), "{cause:?}");
        }
        // Through the poller's submit: the same error, inside `Submit`.
        let q = UsageQueries::new(client);
        match q.submit_organization(&query()).await.unwrap_err() {
            Error::Submit(UsageError::OutcomeUnknown { .. }) => {}
            other => panic!("{name}: expected Submit(OutcomeUnknown), got {other:?}"),
        }
        assert_eq!(
            server.count(SUBMIT),
            2,
            "{name}: one more submit, one more POST"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3. Bodies are read under a cap.

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn an_endless_result_body_stops_at_the_cap() {
    endless_result_stops_at_the_cap(async |client| poll(client).await).await;
}

/// A 200 whose chunked body never ends: `ResponseTooLarge` at the cap, one send, and the
/// server got out little more than the cap.
async fn endless_result_stops_at_the_cap(call: impl AsyncFn(&Client) -> Result<(), UsageError>) {
    let server = with_token(Act::EndlessChunked { status: 200 }).await;
    let client = builder(&server).max_response_bytes(MIB).build().unwrap();
    let started = Instant::now();
    let err = call(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            UsageError::ResponseTooLarge {
                status: 200,
                limit: MIB,
                declared: None
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.count(RESULTS),
        1,
        "a body over the cap is not retried"
    );
    // The client stopped reading at the cap: what the server got out is the cap plus
    // what the loopback socket buffers hold, not gigabytes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let written = server.body_bytes_written();
    assert!(written < 32 * MIB, "{written} bytes left the server");
}

#[tokio::test]
async fn a_content_length_over_the_cap_fails_before_reading() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        // Announces 10 GiB and sends nothing: a client that waits for the body hangs.
        _ => Act::json(200, "").with("content-length", 10u64 << 30),
    })
    .await;
    let client = builder(&server)
        .max_response_bytes(MIB)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            UsageError::ResponseTooLarge {
                declared: Some(n),
                ..
            } if n == 10u64 << 30
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_endless_error_body_keeps_its_status_and_is_retried() {
    let server = with_token(Act::EndlessChunked { status: 503 }).await;
    let client = builder(&server).build().unwrap();
    let err = poll(&client).await.unwrap_err();
    let UsageError::Api {
        status: 503, body, ..
    } = &err
    else {
        panic!("expected the 503 with its status, got {err:?}");
    };
    assert_eq!(
        body.code.as_deref(),
        Some(usage_client::UNREADABLE_ERROR_BODY)
    );
    assert!(
        body.message
            .as_deref()
            .unwrap()
            .contains("1048576-byte cap")
    );
    assert!(err.is_transient());
    assert_eq!(
        server.count(RESULTS),
        4,
        "a 503 is retried up to max_attempts"
    );
}

#[tokio::test]
async fn an_endless_submit_answer_is_an_unknown_outcome() {
    let server = with_token(Act::EndlessChunked { status: 202 }).await;
    let client = builder(&server).max_response_bytes(MIB).build().unwrap();
    let err = submit(&client).await.unwrap_err();
    let UsageError::OutcomeUnknown { cause } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(**cause, UsageError::ResponseTooLarge { .. }),
        "{cause:?}"
    );
    assert_eq!(server.count(SUBMIT), 1);
}

#[tokio::test]
async fn an_endless_token_answer_stops_at_64_kib() {
    let server = Hostile::start(|_, _| Act::EndlessChunked { status: 200 }).await;
    let client = builder(&server).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(
        matches!(err, AuthError::ResponseTooLarge { limit: 65_536, .. }),
        "{err:?}"
    );
    assert_eq!(server.count(TOKEN), 1);
}

// ---------------------------------------------------------------------------------------
// 4. No value a server sends and no policy a user sets panics. (The property test that
// drives arbitrary values is in `properties.rs`.)

#[tokio::test]
async fn overflowing_token_lifetimes_are_clamped() {
    for expires_in in [
        "18446744073709551615",
        "1e19",
        "1e308",
        "-1",
        "-1e308",
        "0",
        "0.5",
        "99999999999999999999999999999",
    ] {
        let body = format!(r#"{{"access_token":"tok","expires_in":{expires_in}}}"#);
        let server = Hostile::start(move |req, _| match req.path() {
            TOKEN => Act::json(200, &body),
            _ => running(),
        })
        .await;
        let client = builder(&server).build().unwrap();
        client.authenticate().await.unwrap();
        poll(&client).await.unwrap();
        poll(&client).await.unwrap();
        assert_eq!(server.count(TOKEN), 1, "expires_in {expires_in}: one token");
    }
}

#[tokio::test]
async fn an_overflowing_retry_after_on_a_poll_is_a_rate_limit() {
    let server = with_token(
        Act::json(429, json!({"status": 429})).with("retry-after", "18446744073709551615"),
    )
    .await;
    let q = queries(builder(&server).build().unwrap(), Duration::from_secs(60));
    let started = Instant::now();
    let err = Execution::organization("exec-1")
        .wait(&q)
        .await
        .unwrap_err();
    let Error::Poll {
        source, polls: 1, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        matches!(source, UsageError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == u64::MAX),
        "{source:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_policy_that_cannot_work_is_refused_when_given() {
    let client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let err = UsageQueries::new(client)
        .with_policy(PollPolicy::default().with_factor(f64::INFINITY))
        .unwrap_err();
    assert!(err.to_string().contains("factor"), "{err}");
    let err = Client::builder()
        .base_url("http://127.0.0.1:9")
        .retry_policy(RetryPolicy::default().with_max_attempts(0))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
}

// ---------------------------------------------------------------------------------------
// 5. Credentials never go to a proxy in clear.

#[tokio::test]
async fn a_loopback_target_never_goes_through_a_proxy() {
    let proxy = Hostile::start(|_, _| Act::Close).await;
    let target = with_token(running()).await;
    let proxy_url = proxy.url();
    let env = move |name: &str| match name {
        "HTTP_PROXY" | "http_proxy" | "HTTPS_PROXY" | "ALL_PROXY" => Some(proxy_url.clone()),
        "GENESYSCLOUD_OAUTHCLIENT_ID" => Some(CLIENT_ID.into()),
        "GENESYSCLOUD_OAUTHCLIENT_SECRET" => Some(SECRET.into()),
        _ => None,
    };
    let from_env = ClientBuilder::from_env_with(env)
        .unwrap()
        .base_url(&target.url())
        .build()
        .unwrap();
    let explicit = Client::builder()
        .base_url(&target.url())
        .client_credentials(CLIENT_ID, SECRET)
        .proxy(proxy.url())
        .build()
        .unwrap();
    for client in [from_env, explicit] {
        poll(&client).await.unwrap();
    }
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
    assert_eq!(target.count(TOKEN), 2);
    assert_eq!(target.count(RESULTS), 2);
}

#[tokio::test]
async fn an_https_target_reaches_the_proxy_only_as_a_tunnel() {
    // The proxy refuses every tunnel: what matters is what it was shown.
    let proxy = Hostile::start(|_, _| Act::json(403, "")).await;
    let client = Client::builder()
        .base_urls("https://api.usage.test", "https://login.usage.test")
        .client_credentials(CLIENT_ID, SECRET)
        .proxy(proxy.url())
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(matches!(err, AuthError::Network { .. }), "{err:?}");
    let log = proxy.log();
    assert!(
        !log.is_empty(),
        "the https target was meant to use the proxy"
    );
    for request in &log {
        assert_eq!(request.method, "CONNECT", "{request:?}");
        assert_eq!(request.target, "login.usage.test:443");
        assert_eq!(request.header("authorization"), None, "{request:?}");
        assert!(request.body.is_empty());
    }
}

/// reqwest reads `HTTP_PROXY` from the process environment on its own; the client must
/// not let it. The environment is per process, so the check runs in a child process.
#[tokio::test]
async fn process_proxy_variables_never_see_a_plain_http_request() {
    const CHILD: &str = "USAGE_TESTS_PROXY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let target = with_token(running()).await;
        let client = Client::builder()
            .base_url(&target.url())
            .client_credentials(CLIENT_ID, SECRET)
            .build()
            .unwrap();
        poll(&client)
            .await
            .expect("the request went around the proxy");
        return;
    }
    let proxy = Hostile::start(|_, _| Act::Close).await;
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "process_proxy_variables_never_see_a_plain_http_request",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("HTTP_PROXY", proxy.url())
        .env("http_proxy", proxy.url())
        .env("HTTPS_PROXY", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
}

// ---------------------------------------------------------------------------------------
// 6. An id is one path segment. (The property test is in `properties.rs`.)

#[tokio::test]
async fn an_id_cannot_escape_its_path_segment() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        p if p.ends_with("/usage/query") => submitted(),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    client
        .get_usage_query_execution_id_results(r"x\..\y")
        .await
        .unwrap();
    client
        .post_oauth_client_usage_query(
            r"victim\..\other",
            &usage_client::models::ApiUsageClientQuery::new("2026-10-01/2026-11-01"),
        )
        .await
        .unwrap();
    let paths: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.path() != TOKEN)
        .map(|l| l.target.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v2/usage/query/x%5C..%5Cy/results",
            "/api/v2/oauth/clients/victim%5C..%5Cother/usage/query"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// 7. A token a header cannot carry is refused, never dropped.

#[tokio::test]
async fn a_token_a_header_cannot_carry_is_refused() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => Act::json(
            200,
            json!({"access_token": "tok\r\nX-Injected: yes", "expires_in": 3600}),
        ),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidToken), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("X-Injected"));
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::InvalidToken)),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0, "nothing went out without a token");

    let fixed = Client::builder()
        .base_url(&server.url())
        .access_token("abc\ndef")
        .build()
        .unwrap();
    assert!(matches!(
        fixed.authenticate().await,
        Err(AuthError::InvalidToken)
    ));
    let err = poll(&fixed).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::InvalidToken)),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0);
}

// ---------------------------------------------------------------------------------------
// 8. One token fetch for a burst, whatever the token's text or lifetime.

/// `n` polls on clones of `client` at once; each must succeed.
async fn polls_at_once(client: &Client, n: usize) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        calls.spawn(async move { poll(&client).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_401s_renews_once_when_the_login_reissues_the_same_token() {
    // Until the second token request, every API call is refused; the login service hands
    // out the same text every time.
    let server = Hostile::start(|req, earlier| match req.path() {
        TOKEN => token_ok(),
        _ if tokens(earlier) < 2 => Act::json(401, json!({"status": 401})),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    polls_at_once(&client, 100).await;
    assert_eq!(server.count(TOKEN), 2);
    let sent = server.count(RESULTS);
    assert!(
        sent > 100,
        "the burst did meet 401s: {sent} requests for 100 calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_lifetime_token_is_shared_by_concurrent_callers() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => Act::json(200, json!({"access_token": "tok", "expires_in": 0})),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    polls_at_once(&client, 50).await;
    assert_eq!(server.count(TOKEN), 1);
    assert_eq!(server.count(RESULTS), 50);
}

// ---------------------------------------------------------------------------------------
// 9. A login outage inside an operation is transient, and the poller rides it out.

#[tokio::test]
async fn a_login_outage_during_a_wait_is_transient() {
    let server = Hostile::start(|req, earlier| match req.path() {
        TOKEN if tokens(earlier) < 4 => Act::json(503, ""),
        TOKEN => token_ok(),
        _ => Act::json(200, json!({"queryStatus": "Complete", "results": []})),
    })
    .await;
    let client = builder(&server)
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            UsageError::Auth(AuthError::Unavailable {
                status: 503,
                attempts: 2,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    let q = queries(client, Duration::from_secs(60));
    let mut statuses = Vec::new();
    let result = Execution::organization("exec-1")
        .wait_with(&q, |e| statuses.push(e.status.clone()))
        .await
        .unwrap();
    assert!(result.results.is_empty());
    assert!(
        matches!(statuses[0], PollStatus::Transient(_)),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&PollStatus::Complete));
}

// ---------------------------------------------------------------------------------------
// 10. Retry-After is waited as named.

#[tokio::test]
async fn retry_after_is_waited_as_named_plus_little_jitter() {
    for (seconds, low, high) in [(0u64, 0u64, 50u64), (1, 1_000, 1_100)] {
        let server = Hostile::start(move |req, earlier| match req.path() {
            TOKEN => token_ok(),
            _ if earlier.iter().filter(|l| l.path() == RESULTS).count() == 0 => {
                Act::json(429, json!({"status": 429})).with("retry-after", seconds)
            }
            _ => running(),
        })
        .await;
        // Default policy: a 500 ms backoff with full jitter, which a named wait replaces.
        let client = builder(&server)
            .retry_policy(RetryPolicy::default())
            .jitter_seed(42)
            .build()
            .unwrap();
        client.authenticate().await.unwrap();
        let started = Instant::now();
        poll(&client).await.unwrap();
        let ms = started.elapsed().as_millis() as u64;
        assert!(
            (low..high).contains(&ms),
            "Retry-After {seconds}: {ms} ms, not {low}..{high}"
        );
        assert_eq!(server.count(RESULTS), 2);
    }
}

// ---------------------------------------------------------------------------------------
// 11. max_wait bounds the whole wait.

const MAX_WAIT: Duration = Duration::from_secs(2);
const LATE: Duration = Duration::from_millis(100);

#[tokio::test]
async fn a_silent_server_costs_one_poll_and_max_wait() {
    let server = with_token(Act::Stall).await;
    // The default policy: 4 attempts of 30 s each, which the deadline cuts short.
    let client = builder(&server)
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();
    let q = queries(client, MAX_WAIT);
    let started = Instant::now();
    let err = Execution::organization("exec-1")
        .wait(&q)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed <= MAX_WAIT + LATE, "{elapsed:?}");
    assert!(elapsed >= MAX_WAIT - LATE * 2, "gave up early: {elapsed:?}");
    let Error::ExceededMaxWait {
        last_error: Some(last),
        polls: 1,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(matches!(**last, UsageError::Timeout { .. }), "{last:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(server.count(RESULTS), 1);
}

#[tokio::test]
async fn a_running_query_is_polled_until_max_wait_not_before() {
    let server = with_token(running()).await;
    let q = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let started = Instant::now();
    let err = Execution::organization("exec-1")
        .wait(&q)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            Error::ExceededMaxWait {
                last_error: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed <= MAX_WAIT + LATE, "{elapsed:?}");
    // The last poll goes out `LAST_POLL_ROOM` (100 ms) before the deadline.
    assert!(elapsed >= MAX_WAIT - LATE * 2, "gave up early: {elapsed:?}");
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_wait_is_reported_as_a_rate_limit() {
    let server = with_token(
        Act::json(429, json!({"status": 429, "code": "too.many.requests"}))
            .with("retry-after", 3600),
    )
    .await;
    let q = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let started = Instant::now();
    let err = Execution::organization("exec-1")
        .wait(&q)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match &err {
        Error::Poll {
            source: UsageError::RateLimited { retry_after, .. },
            ..
        } => assert_eq!(*retry_after, Some(Duration::from_secs(3600))),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert!(err.to_string().contains("Retry-After: 3600 s"), "{err}");
}

// ---------------------------------------------------------------------------------------
// 12. Errors say the cause, the attempts and the time.

#[tokio::test]
async fn a_network_error_names_its_cause_attempts_and_time() {
    let dead = dead_port().await;
    let client = Client::builder()
        .base_url(&format!("http://{dead}"))
        .access_token("tok")
        .retry_policy(fast_retries().with_max_attempts(3))
        .build()
        .unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Network { attempts: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("3 attempts over"), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
}

#[tokio::test]
async fn a_stalled_login_says_it_timed_out_and_how_often_it_tried() {
    let server = Hostile::start(|_, _| Act::Stall).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(150))
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let err = client.authenticate().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, AuthError::Network { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(text.contains("2 attempts over"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert_eq!(server.count(TOKEN), 2);
}

// ---------------------------------------------------------------------------------------
// 13. The last poll is reported; the service's bad id is not the caller's input.

#[tokio::test]
async fn the_progress_callback_sees_the_final_fatal_poll() {
    let server = with_token(Act::json(
        403,
        json!({"status": 403, "code": "missing.permissions"}),
    ))
    .await;
    let q = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let mut events = Vec::new();
    let err = Execution::organization("exec-1")
        .wait_with(&q, |e| events.push(e.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Poll { polls: 1, .. }), "{err:?}");
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0].status, PollStatus::Error(m) if m.contains("403")),
        "{events:?}"
    );
    assert_eq!(events[0].next_delay, Duration::ZERO);
}

#[tokio::test]
async fn an_unusable_execution_id_from_the_service_is_not_the_callers_input() {
    let server = with_token(Act::json(202, json!({"executionId": ".."}))).await;
    let q = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let err = q.organization_usage(&query()).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnusableExecutionId { execution_id } if execution_id == ".."),
        "{err:?}"
    );
    assert!(!err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(server.count(SUBMIT), 1);
    assert_eq!(server.log().len(), 2, "token and submit, no poll");
}

// ---------------------------------------------------------------------------------------
// Properties: arbitrary server values and user policies never panic; every id is one
// segment or nothing is sent.

mod properties {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use usage_tests::ManualClock;

    use super::*;

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        })
    }

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..5_000_000_000).prop_map(Duration::from_nanos),
            any::<u64>().prop_map(Duration::from_secs),
            Just(Duration::ZERO),
            Just(Duration::MAX),
        ]
    }

    fn number_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            Just("1e400".to_string()),
            Just("99999999999999999999999999".to_string()),
        ]
    }

    fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            0u32..6,
            duration(),
            duration(),
            duration(),
            duration(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    max_attempts,
                    initial_backoff,
                    max_backoff,
                    max_elapsed,
                    max_retry_after,
                    jitter,
                )| {
                    RetryPolicy::default()
                        .with_max_attempts(max_attempts)
                        .with_initial_backoff(initial_backoff)
                        .with_max_backoff(max_backoff)
                        .with_max_elapsed(max_elapsed)
                        .with_max_retry_after(max_retry_after)
                        .with_jitter(jitter)
                },
            )
    }

    fn poll_policy() -> impl Strategy<Value = PollPolicy> {
        let factor = prop_oneof![1.0f64..4.0, any::<f64>()];
        (duration(), factor, duration(), duration()).prop_map(
            |(initial_delay, factor, max_delay, max_wait)| {
                PollPolicy::default()
                    .with_initial_delay(initial_delay)
                    .with_factor(factor)
                    .with_max_delay(max_delay)
                    .with_max_wait(max_wait)
            },
        )
    }

    /// What the hostile server answers to API calls, until the fifth, which completes.
    #[derive(Debug, Clone)]
    struct Answer {
        status: u16,
        retry_after: String,
        junk: String,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        (
            200u16..600,
            prop_oneof![number_text(), "[ -~]{0,24}"],
            "[!-~][ -~]{0,30}",
        )
            .prop_map(|(status, retry_after, junk)| Answer {
                status,
                retry_after,
                junk,
            })
    }

    async fn drive(
        expires_in: String,
        answer: Answer,
        retry: RetryPolicy,
        poll: PollPolicy,
    ) -> Result<(), TestCaseError> {
        let token = format!(r#"{{"access_token":"tok","expires_in":{expires_in}}}"#);
        let server = Hostile::start(move |req, earlier| {
            let api_calls = earlier.iter().filter(|l| l.path() != TOKEN).count();
            match req.path() {
                TOKEN => Act::json(200, &token),
                _ if api_calls >= 4 => {
                    Act::json(200, json!({"queryStatus": "Complete", "results": []}))
                }
                _ => Act::json(
                    answer.status,
                    json!({"status": answer.status, "queryStatus": "Running"}),
                )
                .with("retry-after", &answer.retry_after)
                .with("x-junk", &answer.junk)
                .with("inin-correlation-id", &answer.junk),
            }
        })
        .await;
        let builder = || {
            Client::builder()
                .base_url(&server.url())
                .client_credentials(CLIENT_ID, SECRET)
                .no_proxy()
                .clock(ManualClock::new())
                .timeout(Duration::from_secs(2))
        };
        // A policy that cannot work is refused with a typed error; the server's values are
        // then driven through the default one.
        let client = match builder().retry_policy(retry).build() {
            Ok(client) => client,
            Err(refused) => {
                prop_assert!(refused.to_string().contains("retry policy"), "{}", refused);
                builder().build().unwrap()
            }
        };
        let _ = client.authenticate().await;
        let queries = match UsageQueries::new(client.clone()).with_policy(poll) {
            Ok(queries) => queries,
            Err(refused) => {
                prop_assert!(refused.to_string().contains("poll policy"));
                UsageQueries::new(client)
            }
        };
        let execution = Execution::organization("exec-1");
        let wait = execution.wait(&queries);
        let ended = tokio::time::timeout(Duration::from_secs(20), wait).await;
        prop_assert!(ended.is_ok(), "the wait did not end");
        if let Ok(Err(error)) = ended {
            // Every error prints, and says something.
            prop_assert!(!error.to_string().is_empty());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn no_server_value_or_user_policy_panics(
            expires_in in number_text(),
            answer in answer(),
            retry in retry_policy(),
            poll in poll_policy(),
        ) {
            runtime().block_on(drive(expires_in, answer, retry, poll))?;
        }
    }

    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            "[\\\\/.%?#;=&+:@ \u{0}-\u{1f}\u{7f}a-zé€\u{1F600}-]{0,10}",
            Just(String::new()),
            Just(".".to_string()),
            Just("..".to_string()),
            Just(r"x\..\y".to_string()),
            Just("%2e%2e".to_string()),
        ]
    }

    fn percent_decode(segment: &str) -> Option<String> {
        let bytes = segment.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = segment.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    fn server() -> &'static (Hostile, Client) {
        static SERVER: OnceLock<(Hostile, Client)> = OnceLock::new();
        SERVER.get_or_init(|| {
            runtime().block_on(async {
                let server = Hostile::start(|_, _| running()).await;
                let client = Client::builder()
                    .base_url(&server.url())
                    .no_proxy()
                    .retry_policy(RetryPolicy::disabled())
                    .build()
                    .unwrap();
                (server, client)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn every_id_is_one_segment_that_decodes_to_it_or_nothing_is_sent(
            client_id in id(),
            execution_id in id(),
        ) {
            let (server, client) = server();
            let before = server.log().len();
            let outcome = runtime().block_on(
                client.get_oauth_client_usage_query_result(&client_id, &execution_id),
            );
            let log = server.log();
            match outcome {
                Ok(_) => {
                    prop_assert_eq!(log.len(), before + 1);
                    let target = &log[before].target;
                    let segments: Vec<&str> = target.split('/').collect();
                    // "", api, v2, oauth, clients, {clientId}, usage, query, results, {executionId}
                    prop_assert_eq!(segments.len(), 10, "{}", target);
                    prop_assert_eq!(&segments[..5], &["", "api", "v2", "oauth", "clients"]);
                    prop_assert_eq!(&segments[6..9], &["usage", "query", "results"]);
                    prop_assert_eq!(percent_decode(segments[5]), Some(client_id));
                    prop_assert_eq!(percent_decode(segments[9]), Some(execution_id));
                }
                Err(e) => {
                    prop_assert_eq!(log.len(), before, "refused, yet sent");
                    prop_assert!(matches!(e, UsageError::InvalidRequest(_)), "{:?}", e);
                    let unusable = |id: &str| id.is_empty() || id == "." || id == "..";
                    prop_assert!(unusable(&client_id) || unusable(&execution_id));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Streamed results: the original queries' results are decoded as the body arrives, inside
// the same pipeline as every operation: the same caps and typed errors; a break mid-body
// is a transport failure, retried for a GET, and the poller (which sends each poll once)
// polls again.

async fn streamed(client: &Client) -> Result<usize, UsageError> {
    Ok(client
        .get_usage_query_execution_id_results("exec-1")
        .await?
        .results
        .len())
}

#[tokio::test]
async fn a_streamed_result_stops_at_the_cap_or_before_an_oversized_length() {
    endless_result_stops_at_the_cap(async |client| streamed(client).await.map(drop)).await;

    let declared = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        _ => Act::json(200, "").with("content-length", 10u64 << 30),
    })
    .await;
    let client = builder(&declared)
        .max_response_bytes(MIB)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = streamed(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::ResponseTooLarge { declared: Some(n), .. } if n == 10u64 << 30),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_streamed_result_broken_mid_body_is_transient_and_polled_again() {
    let answer = json!({"results": [{"requests": 1}, {"requests": 2}], "queryStatus": "Complete"})
        .to_string();
    // The first `broken` result answers break off half way; the next is whole.
    let server_breaking = |broken: usize| {
        let answer = answer.clone();
        Hostile::start(move |req, earlier| match req.path() {
            TOKEN => token_ok(),
            _ if earlier.iter().filter(|l| l.path() == RESULTS).count() < broken => {
                Act::CloseMidBody {
                    status: 200,
                    declared: answer.len(),
                    sent: answer.as_bytes()[..answer.len() / 2].to_vec(),
                }
            }
            _ => Act::json(200, &answer),
        })
    };
    // A GET broken mid-body is retried by the pipeline like any transport failure.
    let server = server_breaking(2).await;
    let client = builder(&server).build().unwrap();
    assert_eq!(streamed(&client).await.unwrap(), 2);
    assert_eq!(
        server.count(RESULTS),
        3,
        "two broken sends, then the whole answer"
    );
    // Past max_attempts, the error is transient and counts every send.
    let server = server_breaking(10).await;
    let client = builder(&server).build().unwrap();
    let err = streamed(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Network { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.count(RESULTS), 4);
    // Under the poller each poll is sent once: a broken poll, then the poller polls again.
    let server = server_breaking(1).await;
    let client = builder(&server).build().unwrap();
    let result = Execution::organization("exec-1")
        .wait(&queries(client, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(result.results.len(), 2);
    assert_eq!(
        server.count(RESULTS),
        2,
        "one broken poll, then the whole answer"
    );
}

#[tokio::test]
async fn a_streamed_result_that_is_not_a_result_is_a_decode_error_and_agrees_with_the_whole_body() {
    let cases = [
        ("<html><body>502 Bad Gateway</body></html>", false),
        (
            r#"{"results":[{"requests":"many"}],"queryStatus":"Complete"}"#,
            false,
        ),
        (
            r#"{"results":[{"requests":1},],"queryStatus":"Complete"}"#,
            false,
        ),
        (r#"{"results":[{"requests":1}"#, false),
        (
            r#"{"queryStatus":"Complete","cursors":{"after":"]"},"results":[{"clientId":"a\"]","requests":1,"date":"2026-10-01T00:00:00Z"},{"status429":2,"x":[{"y":"}"}]}],"z":null}"#,
            true,
        ),
    ];
    for (body, valid) in cases {
        let server = with_token(Act::json(200, body)).await;
        let client = builder(&server).build().unwrap();
        let ours = client.get_usage_query_execution_id_results("exec-1").await;
        let whole = serde_json::from_str::<usage_client::models::ApiUsageQueryResult>(body);
        match (ours, whole) {
            (Ok(ours), Ok(whole)) => {
                assert!(valid, "{body}");
                assert_eq!(ours, whole, "{body}");
            }
            (Err(ours), Err(_)) => {
                assert!(!valid, "{body}: {ours}");
                assert!(
                    matches!(ours, UsageError::Decode { .. }),
                    "{body}: {ours:?}"
                );
            }
            (ours, whole) => panic!("{body}: streamed {ours:?}, whole {whole:?}"),
        }
        assert_eq!(server.count(RESULTS), 1, "{body}: one send, no retry");
    }
}

// ---------------------------------------------------------------------------------------
// The README's failure table stays true to this suite.

#[test]
fn the_failure_table_names_existing_tests_and_every_suite_test() {
    let root = usage_tests::workspace_root();
    let readme = std::fs::read_to_string(root.join("crates/usage-client/README.md")).unwrap();
    let table = readme
        .split("## Failure behaviour")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("crates/usage-client/README.md has a Failure behaviour section");
    let named: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_end_matches('|').rsplit('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect();
    assert!(named.len() > 20, "{named:?}");
    let sources: String = ["tests/hostile_suite.rs", "tests/runtime.rs"]
        .iter()
        .map(|p| std::fs::read_to_string(root.join(p)).unwrap())
        .collect();
    for name in &named {
        assert!(
            sources.contains(&format!("fn {name}(")),
            "the failure table names `{name}`, which is no test: update the row"
        );
    }
    let suite = std::fs::read_to_string(root.join("tests/hostile_suite.rs")).unwrap();
    let mut lines = suite.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("#[tokio::test") || line == "#[test]") {
            continue;
        }
        // proptest's tests sit inside `proptest!`, named on the next `fn` line as well.
        let Some(name) = lines
            .find_map(|l| l.split("fn ").nth(1))
            .and_then(|rest| rest.split('(').next())
        else {
            continue;
        };
        if name == "the_failure_table_names_existing_tests_and_every_suite_test" {
            continue;
        }
        assert!(
            named.contains(&name),
            "`{name}` proves a failure behaviour the table in crates/usage-client/README.md does not list"
        );
    }
}
