//! No value a server sends and no policy a user sets panics. (The property test that drives
//! arbitrary values is in `properties.rs`.)

use super::*;

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
