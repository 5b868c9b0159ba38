//! max_wait bounds the whole wait.

use super::*;

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
