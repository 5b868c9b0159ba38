//! Bodies are read under a cap.

use super::*;

#[tokio::test]
async fn an_endless_result_body_stops_at_the_cap() {
    endless_result_stops_at_the_cap(async |client| poll(client).await).await;
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
