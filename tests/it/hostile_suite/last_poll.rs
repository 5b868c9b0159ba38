//! The last poll is reported; the service's bad id is not the caller's input.

use super::*;

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
