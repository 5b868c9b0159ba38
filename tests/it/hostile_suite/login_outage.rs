//! A login outage inside an operation is transient, and the poller rides it out.

use super::*;

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
