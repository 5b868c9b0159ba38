//! One retry loop, with a budget: retries never stack, and errors count them all.

use super::*;

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
    let clock = usage_tests::ManualClock::new();
    let client = builder(&server).clock(clock.clone()).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(PollPolicy::default())
        .unwrap();
    let err = q.organization_usage(&query()).await.unwrap_err();
    let Error::PollsFailing {
        polls,
        failed_polls,
        failing_since,
        failing_for,
        ..
    } = &err
    else {
        panic!("expected polls that kept failing, got {err:?}");
    };
    assert_eq!(
        server.count(RESULTS),
        *polls as usize,
        "one GET per poll, none retried under the poller"
    );
    assert_eq!(polls, failed_polls);
    // The default schedule backed off: the first poll at 60 ms, then 1, 2, 4, 8 and 10 s
    // apart until the 60 s budget is spent, ten GETs for a minute of outage.
    assert_eq!(*failing_since, Duration::from_millis(60));
    assert_eq!(*failing_for, Duration::from_secs(65));
    assert_eq!(*polls, 10);
    let text = err.to_string();
    for part in ["10 polls in a row failed over 65.0 s", "since 0.1 s", "503"] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
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

/// `requests_sent` is what the server saw: every retry, every token request, every clone.
#[tokio::test]
async fn requests_sent_counts_every_request_the_server_saw() {
    let server = Hostile::start(|req, earlier| match req.path() {
        TOKEN if tokens(earlier) == 0 => Act::json(503, json!({})),
        TOKEN => token_ok(),
        _ => Act::json(503, json!({"status": 503})),
    })
    .await;
    let client = builder(&server).build().unwrap();
    assert_eq!(client.requests_sent(), 0);
    poll(&client).await.unwrap_err();
    let clone = client.clone();
    poll(&clone).await.unwrap_err();
    let seen = server.log().len() as u64;
    assert_eq!(
        seen,
        2 + 4 + 4,
        "two token requests, four attempts per call"
    );
    assert_eq!(client.requests_sent(), seen);
    assert_eq!(clone.requests_sent(), seen);
}
