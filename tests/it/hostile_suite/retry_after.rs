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

/// A job's page answering 429 forever: the client's `max_attempts` sends, each after the
/// `Retry-After` it was given, and no retry loop on top of them in the paging.
#[tokio::test]
async fn a_page_answering_429_forever_gets_max_attempts_sends_each_after_its_retry_after() {
    const JOB: &str = "/api/v2/usage/aggregates/query/jobs/job-1";
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        JOB if !req.target.contains("after=") => Act::json(
            200,
            json!({"queryStatus": "Succeeded", "entities": [],
                   "nextUri": format!("{JOB}?pageSize=1000&after=c1")}),
        ),
        _ => Act::json(429, json!({"status": 429})).with("retry-after", 1),
    })
    .await;
    let client = builder(&server)
        .retry_policy(RetryPolicy::default().with_max_attempts(3))
        .build()
        .unwrap();
    let queries = queries(client, Duration::from_secs(10));
    let mut pages = usage_ext::Job::organization("job-1")
        .wait(&queries)
        .await
        .unwrap();
    assert_eq!(pages.next_page().await.unwrap().unwrap().len(), 0);
    let err = pages.next_page().await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::Page { source, .. } if matches!(**source, UsageError::RateLimited { .. })),
        "{err:?}"
    );
    let sends: Vec<Logged> = server
        .log()
        .into_iter()
        .filter(|l| l.target.contains("after=c1"))
        .collect();
    assert_eq!(sends.len(), 3, "max_attempts sends, no more");
    for pair in sends.windows(2) {
        let gap = pair[1].received - pair[0].received;
        assert!(
            (Duration::from_millis(1_000)..Duration::from_millis(1_400)).contains(&gap),
            "a retry {gap:?} after the last, not after its Retry-After of 1 s"
        );
    }
}
