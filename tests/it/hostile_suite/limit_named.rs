//! A 429 that names its limit (`ErrorBody.limit`): the error says which limit was hit, its
//! namespace and value, and a program reads it typed; an absurd limit (a value past any
//! count, a namespace no version lists, a key of control bytes) panics nothing.

use super::*;

/// A 429 with `limit` in its body, and a wait too long to retry under (returned at once).
async fn limited(limit: serde_json::Value) -> Hostile {
    with_token(
        Act::json(
            429,
            json!({"status": 429, "code": "too.many.requests", "message": "Rate limit exceeded",
                   "limit": limit}),
        )
        .with("retry-after", 3600),
    )
    .await
}

#[tokio::test]
async fn a_429_names_the_limit_it_hit_in_its_message_and_typed() {
    let server = limited(json!({"namespace": "platform.api",
                                "key": "client.credentials.token.rate.per.minute",
                                "value": 300}))
    .await;
    let client = builder(&server).build().unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(matches!(err, UsageError::RateLimited { .. }), "{err:?}");
    let limit = err.limit().expect("the limit the body names");
    assert_eq!(
        limit.key.as_deref(),
        Some("client.credentials.token.rate.per.minute")
    );
    assert_eq!(
        limit.namespace.as_ref().map(|n| n.as_str()),
        Some("platform.api")
    );
    assert_eq!(limit.value, Some(300));
    let text = err.to_string();
    assert!(
        text.contains("client.credentials.token.rate.per.minute (platform.api) = 300"),
        "{text}"
    );
    assert_eq!(
        server.count(RESULTS),
        1,
        "a wait past the cap is not retried"
    );
}

#[tokio::test]
async fn a_429_without_a_limit_names_none() {
    let server = limited(json!(null)).await;
    let client = builder(&server).build().unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(err.limit().is_none(), "{err:?}");
    assert!(!err.to_string().contains("the limit named"), "{err}");
}

#[tokio::test]
async fn an_absurd_limit_panics_nothing() {
    let long_key = "k".repeat(100_000);
    for limit in [
        json!({"namespace": "a.namespace.no.version.lists", "key": "x", "value": i64::MAX}),
        json!({"key": "x", "value": i64::MIN}),
        json!({"key": "\u{1b}[2J\u{7}", "value": 0}),
        json!({"key": long_key, "value": 1}),
        json!({"value": 1e300}),
        json!({"key": 5}),
        json!("not a limit"),
    ] {
        let server = limited(limit.clone()).await;
        let client = builder(&server).build().unwrap();
        let err = poll(&client).await.unwrap_err();
        assert_eq!(err.status(), Some(429), "{limit}: {err:?}");
        let _ = err.to_string();
        if let Some(named) = err.limit() {
            assert!(named.describe().is_some(), "{limit}");
        }
    }
}
