//! Retry-After is waited as named.

use super::*;

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
