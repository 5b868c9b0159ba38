//! The client runtime against a scripted loopback server: OAuth client credentials,
//! token caching and renewal, 401 replay, the retry matrix, timeouts, and secrets that
//! never reach logs or error text.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_client::{Client, ClientBuilder, ConfigError, RetryPolicy, UsageError};
use usage_tests::{ManualClock, Reply, Scripted, Seen};

const CLIENT_ID: &str = "3f1c9d2e-client";
const SECRET: &str = "s3cr3t-Do-Not-Print";
const TOKEN_PATH: &str = "/oauth/token";
const SUBMIT_PATH: &str = "/api/v2/usage/query";
const RESULTS_PATH: &str = "/api/v2/usage/query/exec-1/results";

fn count(earlier: &[Seen], path: &str) -> usize {
    earlier.iter().filter(|s| s.path == path).count()
}

/// Token n (1-based) is `tok-n`, living `expires_in` seconds.
fn token_reply(earlier: &[Seen], expires_in: u64) -> Reply {
    let n = count(earlier, TOKEN_PATH) + 1;
    Reply::json(
        200,
        json!({"access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": expires_in}),
    )
}

fn running() -> Reply {
    Reply::json(200, r#"{"queryStatus":"Running"}"#)
}

fn submitted() -> Reply {
    Reply::json(
        202,
        r#"{"executionId":"exec-1","resultsUri":"/api/v2/usage/query/exec-1/results"}"#,
    )
}

fn builder(server: &Scripted, clock: &Arc<ManualClock>) -> ClientBuilder {
    Client::builder()
        .base_url(&server.base_url)
        .client_credentials(CLIENT_ID, SECRET)
        .clock(clock.clone())
        .jitter_seed(7)
}

fn query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z")
}

async fn poll(client: &Client) -> Result<(), UsageError> {
    client
        .get_usage_query_execution_id_results("exec-1")
        .await?;
    Ok(())
}

async fn submit(client: &Client) -> Result<(), UsageError> {
    client.post_usage_query(&query()).await?;
    Ok(())
}

#[tokio::test]
async fn token_request_has_basic_auth_and_form_body_and_is_cached() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock).build().unwrap();
    for _ in 0..5 {
        poll(&client).await.unwrap();
    }
    let seen = server.seen();
    let token_requests: Vec<&Seen> = seen.iter().filter(|s| s.path == TOKEN_PATH).collect();
    assert_eq!(token_requests.len(), 1, "five calls share one token");
    let token = token_requests[0];
    assert_eq!(token.method, "POST");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    assert_eq!(
        token.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token.body, "grant_type=client_credentials");
    let api: Vec<&Seen> = seen.iter().filter(|s| s.path == RESULTS_PATH).collect();
    assert_eq!(api.len(), 5);
    for call in api {
        assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
        assert!(
            call.header("user-agent")
                .unwrap()
                .starts_with("genesys-usage-rs/")
        );
    }
}

#[tokio::test]
async fn token_is_renewed_before_it_expires() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 300),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock).build().unwrap();
    poll(&client).await.unwrap();
    // Lifetime 300 s, margin 60 s: kept until 240 s.
    clock.advance(Duration::from_secs(239));
    poll(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 1);
    clock.advance(Duration::from_secs(2));
    poll(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 2, "renewed 60 s before expiry");
    let last = server
        .seen()
        .into_iter()
        .rfind(|s| s.path == RESULTS_PATH)
        .unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_replays_once() {
    // A POST is replayed after 401 too: the service refused it before acting.
    for (path, post) in [(RESULTS_PATH, false), (SUBMIT_PATH, true)] {
        let server = Scripted::start(|req, earlier| match req.path.as_str() {
            TOKEN_PATH => token_reply(earlier, 86_400),
            _ if req.header("authorization") == Some("Bearer tok-1") => {
                Reply::json(401, r#"{"code":"bad.credentials","status":401}"#)
            }
            SUBMIT_PATH => submitted(),
            _ => running(),
        })
        .await;
        let clock = ManualClock::new();
        // Retries off: the replay after 401 is separate from the retry policy.
        let client = builder(&server, &clock)
            .retry_policy(RetryPolicy::disabled())
            .build()
            .unwrap();
        let call = || async {
            if post {
                submit(&client).await
            } else {
                poll(&client).await
            }
        };
        call().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(server.count(TOKEN_PATH), 2, "{path}");
        assert_eq!(
            server.count(path),
            2,
            "{path}: one refused send, one replay"
        );
        // The renewed token is kept.
        call().await.unwrap();
        assert_eq!(server.count(TOKEN_PATH), 2, "{path}");
        assert_eq!(server.count(path), 3, "{path}");
    }
}

#[tokio::test]
async fn a_second_401_is_a_typed_error_not_a_loop() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => Reply::json(
            401,
            r#"{"code":"bad.credentials","message":"Invalid login credentials.","status":401}"#,
        )
        .header("ININ-Correlation-Id", "corr-401"),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock).build().unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(matches!(err, UsageError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.correlation_id(), Some("corr-401"));
    assert!(err.to_string().contains("bad.credentials"), "{err}");
    assert_eq!(server.count(RESULTS_PATH), 2, "one send and one replay");
    assert_eq!(server.count(TOKEN_PATH), 2);
    assert!(clock.sleeps().is_empty(), "401 is not retried with backoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_on_an_expired_token_share_one_fetch() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        // A slow login service, so every caller arrives while the fetch is in flight.
        TOKEN_PATH => token_reply(earlier, 300).delayed(Duration::from_millis(100)),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock).build().unwrap();
    poll(&client).await.unwrap();
    clock.advance(Duration::from_secs(301));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let client = client.clone();
        calls.spawn(async move { poll(&client).await });
    }
    while let Some(result) = calls.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(
        server.count(TOKEN_PATH),
        2,
        "one initial fetch, one renewal for all 100"
    );
    assert_eq!(server.count(RESULTS_PATH), 101);
}

#[tokio::test]
async fn token_endpoint_errors_say_what_to_check() {
    let server = Scripted::start(|req, _| match req.path.as_str() {
        TOKEN_PATH => Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"client not found"}"#,
        ),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock).build().unwrap();
    let typed = client.authenticate().await.unwrap_err();
    assert!(
        matches!(&typed, usage_client::AuthError::InvalidCredentials { error, status: 401, .. } if error == "invalid_client"),
        "{typed:?}"
    );
    assert!(
        typed
            .to_string()
            .contains("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
        "{typed}"
    );
    let err = poll(&client).await.unwrap_err();
    assert!(matches!(err, UsageError::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert_eq!(server.count(RESULTS_PATH), 0, "no API call without a token");

    // A login host that is not a login host: wrong region or base URL.
    let server = Scripted::start(|_, _| Reply::json(404, "{}")).await;
    let client = builder(&server, &clock).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(err.to_string().contains("GENESYSCLOUD_REGION"), "{err}");

    // Nothing listening.
    let closed = closed_port_url().await;
    let client = Client::builder()
        .base_url(&closed)
        .client_credentials(CLIENT_ID, SECRET)
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(
        matches!(err, usage_client::AuthError::Network { .. }),
        "{err:?}"
    );
    assert_eq!(
        clock.sleeps().len(),
        3,
        "retried with the default policy's backoff"
    );
    assert!(err.to_string().contains("check the network"), "{err}");
}

/// A loopback URL where nothing listens: bind, note the port, close.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

const TRANSIENT: [u16; 6] = [408, 429, 500, 502, 503, 504];

fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_backoff(Duration::from_secs(8))
        .with_max_elapsed(Duration::from_secs(120))
        .with_max_retry_after(Duration::from_secs(60))
        .with_jitter(false)
}

/// A client with the test retry policy (no jitter, 1 s first backoff).
fn retrying(server: &Scripted, clock: &Arc<ManualClock>) -> Client {
    builder(server, clock)
        .retry_policy(policy())
        .build()
        .unwrap()
}

/// Fails the first API call with `status` (and `Retry-After`), then succeeds.
async fn flaky(status: u16, retry_after: Option<u64>) -> Scripted {
    Scripted::start(move |req, earlier| {
        let first = count(earlier, req.path.as_str()) == 0;
        match req.path.as_str() {
            TOKEN_PATH => token_reply(earlier, 86_400),
            _ if first => {
                let reply = Reply::json(status, json!({"status": status, "code": "transient"}));
                match retry_after {
                    Some(s) => reply.header("Retry-After", s),
                    None => reply,
                }
            }
            SUBMIT_PATH => submitted(),
            _ => running(),
        }
    })
    .await
}

#[tokio::test]
async fn retry_matrix_for_get_and_post() {
    for status in TRANSIENT {
        for retry_after in [None, Some(3)] {
            let case = format!("{status} Retry-After {retry_after:?}");
            let expected_wait = Duration::from_secs(retry_after.unwrap_or(1).max(1));

            // GET: every transient status is retried once here, then succeeds.
            let server = flaky(status, retry_after).await;
            let clock = ManualClock::new();
            let client = retrying(&server, &clock);
            poll(&client)
                .await
                .unwrap_or_else(|e| panic!("GET {case}: {e}"));
            assert_eq!(server.count(RESULTS_PATH), 2, "GET {case}");
            assert_eq!(clock.sleeps(), [expected_wait], "GET {case}");

            // POST: only 429 proves the service did not act.
            let server = flaky(status, retry_after).await;
            let clock = ManualClock::new();
            let client = retrying(&server, &clock);
            let outcome = submit(&client).await;
            if status == 429 {
                outcome.unwrap_or_else(|e| panic!("POST {case}: {e}"));
                assert_eq!(server.count(SUBMIT_PATH), 2, "POST {case}");
                assert_eq!(clock.sleeps(), [expected_wait], "POST {case}");
            } else {
                let err = outcome.unwrap_err();
                assert_eq!(err.status(), Some(status), "POST {case}: {err}");
                assert_eq!(
                    server.count(SUBMIT_PATH),
                    1,
                    "POST {case} is sent exactly once"
                );
                assert!(clock.sleeps().is_empty(), "POST {case}");
            }
        }
    }
}

#[tokio::test]
async fn persistent_failures_stop_after_max_attempts_with_capped_backoff() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => Reply::json(503, r#"{"status":503,"code":"service.unavailable"}"#),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(
            policy()
                .with_max_attempts(5)
                .with_max_backoff(Duration::from_secs(3)),
        )
        .build()
        .unwrap();
    let err = poll(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
    assert_eq!(server.count(RESULTS_PATH), 5);
    let waits: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(waits, [1, 2, 3, 3]);
}

#[tokio::test]
async fn the_retry_budget_bounds_total_time() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => Reply::json(502, "{}"),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(
            policy()
                .with_max_attempts(10)
                .with_max_elapsed(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    poll(&client).await.unwrap_err();
    // Waits 1 + 2 fit in 5 s; the next (4) would end at 7 s.
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(server.count(RESULTS_PATH), 3);
}

#[tokio::test]
async fn a_retry_after_past_the_cap_fails_at_once_with_the_wait() {
    let server = flaky(429, Some(600)).await;
    let clock = ManualClock::new();
    let client = retrying(&server, &clock);
    let err = poll(&client).await.unwrap_err();
    match &err {
        UsageError::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(600)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.to_string().contains("600 s"), "{err}");
    assert_eq!(server.count(RESULTS_PATH), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_retry_after_as_http_date_is_honoured() {
    let at = httpdate_in(Duration::from_secs(20));
    let server = Scripted::start(move |req, earlier| {
        match (req.path.as_str(), count(earlier, RESULTS_PATH)) {
            (TOKEN_PATH, _) => token_reply(earlier, 86_400),
            (_, 0) => Reply::json(429, "{}").header("Retry-After", at.clone()),
            _ => running(),
        }
    })
    .await;
    let clock = ManualClock::new();
    let client = retrying(&server, &clock);
    poll(&client).await.unwrap();
    let waited = clock.sleeps()[0];
    assert!(
        (Duration::from_secs(17)..=Duration::from_secs(20)).contains(&waited),
        "{waited:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    // RFC 7231 IMF-fixdate, computed without another dependency in the tests.
    let t = std::time::SystemTime::now() + d;
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap();
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn connection_refused_is_retried_for_get_and_post() {
    let url = closed_port_url().await;
    for post in [false, true] {
        let clock = ManualClock::new();
        let client = Client::builder()
            .base_url(&url)
            .access_token("fixed")
            .clock(clock.clone())
            .retry_policy(policy())
            .build()
            .unwrap();
        let err = if post {
            submit(&client).await
        } else {
            poll(&client).await
        }
        .unwrap_err();
        assert!(matches!(err, UsageError::Network { .. }), "{err:?}");
        // Nothing was sent, so even the POST is retried: three attempts, two waits.
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(1), Duration::from_secs(2)],
            "post={post}"
        );
    }
}

#[tokio::test]
async fn a_hanging_server_times_out_get_retried_post_not() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => running().delayed(Duration::from_secs(5)),
    })
    .await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(policy())
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(matches!(err, UsageError::Timeout { .. }), "{err:?}");
    assert_eq!(server.count(RESULTS_PATH), 3);
    let err = submit(&client).await.unwrap_err();
    let UsageError::OutcomeUnknown { cause } = &err else {
        panic!("a POST that timed out may have started a query: {err:?}");
    };
    assert!(matches!(**cause, UsageError::Timeout { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        server.count(SUBMIT_PATH),
        1,
        "a POST that may have been acted on is not replayed"
    );
}

#[tokio::test]
async fn disabled_retries_send_once() {
    let server = flaky(503, None).await;
    let clock = ManualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    assert_eq!(poll(&client).await.unwrap_err().status(), Some(503));
    assert_eq!(server.count(RESULTS_PATH), 1);
}

#[test]
fn configuration_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let ok = ClientBuilder::from_env_with(env(&[
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", SECRET),
        ("GENESYSCLOUD_REGION", "eu-west-1"),
    ]))
    .unwrap();
    let debug = format!("{ok:?}");
    assert!(debug.contains("mypurecloud.ie"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
    let client = ok.build().unwrap();
    assert_eq!(
        progenitor_client_baseurl(&client),
        "https://api.mypurecloud.ie"
    );

    assert!(ClientBuilder::from_env_with(env(&[("GENESYSCLOUD_ACCESS_TOKEN", "t")])).is_ok());
    let missing = ClientBuilder::from_env_with(env(&[])).unwrap_err();
    assert!(matches!(missing, ConfigError::MissingCredentials));
    assert!(missing.to_string().contains("GENESYSCLOUD_OAUTHCLIENT_ID"));
    let half =
        ClientBuilder::from_env_with(env(&[("GENESYSCLOUD_OAUTHCLIENT_ID", "id")])).unwrap_err();
    assert!(
        half.to_string()
            .contains("GENESYSCLOUD_OAUTHCLIENT_SECRET is not set"),
        "{half}"
    );
    let blank = ClientBuilder::from_env_with(env(&[
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "  "),
    ]))
    .unwrap_err();
    assert!(matches!(blank, ConfigError::IncompleteCredentials { .. }));
    let region = ClientBuilder::from_env_with(env(&[
        ("GENESYSCLOUD_ACCESS_TOKEN", "t"),
        ("GENESYSCLOUD_REGION", "mars-north-1"),
    ]))
    .unwrap_err();
    assert!(region.to_string().contains("mars-north-1"), "{region}");
}

fn progenitor_client_baseurl(client: &Client) -> String {
    client.base_url().to_string()
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let err = Client::builder()
        .base_url("http://api.example.com")
        .access_token("t")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("https"));
    assert!(
        Client::builder()
            .base_url("http://127.0.0.1:9")
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn an_unavailable_login_service_is_retried_with_backoff() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH if count(earlier, TOKEN_PATH) == 0 => Reply::json(503, "{}"),
        TOKEN_PATH => token_reply(earlier, 86_400),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = retrying(&server, &clock);
    poll(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 2);
    assert_eq!(clock.sleeps(), [Duration::from_secs(1)]);

    // Down for good: the policy's attempts, then a typed error that says so.
    let server = Scripted::start(|_, _| Reply::json(503, "{}")).await;
    let clock = ManualClock::new();
    let client = retrying(&server, &clock);
    let err = client.authenticate().await.unwrap_err();
    assert!(
        matches!(
            err,
            usage_client::AuthError::Unavailable { status: 503, .. }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.count(TOKEN_PATH), 3);

    // Refused credentials are not retried.
    let server = Scripted::start(|_, _| Reply::json(401, r#"{"error":"invalid_client"}"#)).await;
    let client = retrying(&server, &clock);
    assert!(!client.authenticate().await.unwrap_err().is_transient());
    assert_eq!(server.count(TOKEN_PATH), 1);
}

#[tokio::test]
async fn a_retry_after_a_long_wait_carries_a_token_fetched_after_the_wait() {
    let server = Scripted::start(|req, earlier| match req.path.as_str() {
        TOKEN_PATH => token_reply(earlier, 300),
        _ if count(earlier, RESULTS_PATH) == 1 => Reply::json(429, "{}").header("Retry-After", 5),
        _ => running(),
    })
    .await;
    let clock = ManualClock::new();
    let client = retrying(&server, &clock);
    poll(&client).await.unwrap();
    // tok-1 is kept until 240 s; the 5 s wait below starts at 239 s and ends past it.
    clock.advance(Duration::from_secs(239));
    poll(&client).await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
    let calls: Vec<Seen> = server
        .seen()
        .into_iter()
        .filter(|s| s.path == RESULTS_PATH)
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(
        calls[2].header("authorization"),
        Some("Bearer tok-2"),
        "renewed after the wait"
    );
}
