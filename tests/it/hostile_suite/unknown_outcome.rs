//! A POST with an unknown outcome is typed, not transient, and never replayed.

use super::*;

#[tokio::test]
async fn a_post_with_an_unknown_outcome_is_typed_and_sent_once() {
    let cases: Vec<(&str, Act)> = vec![
        ("closed after the request", Act::Close),
        (
            "closed mid-body",
            Act::CloseMidBody {
                status: 202,
                declared: 100,
                sent: br#"{"executionId":"#.to_vec(),
            },
        ),
        ("timed out", Act::Stall),
        (
            "503",
            Act::json(503, json!({"status": 503, "code": "service.unavailable"}))
                .with("inin-correlation-id", "corr-9"),
        ),
        ("500", Act::json(500, json!({"status": 500}))),
    ];
    for (name, act) in cases {
        let server = Hostile::start(move |req, _| match req.path() {
            TOKEN => token_ok(),
            _ => act.clone(),
        })
        .await;
        let client = builder(&server)
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = submit(&client).await.unwrap_err();
        let UsageError::OutcomeUnknown { cause } = &err else {
            panic!("{name}: expected OutcomeUnknown, got {err:?}");
        };
        assert!(!err.is_transient(), "{name}");
        assert!(
            err.to_string().contains("may have started"),
            "{name}: {err}"
        );
        assert_eq!(server.count(SUBMIT), 1, "{name}: never replayed");
        if name == "503" {
            assert_eq!(err.correlation_id(), Some("corr-9"));
            assert!(err.to_string().contains("corr-9"), "{err}");
            assert!(matches!(**cause, UsageError::Api { status: 503, .. }));
        }
        if name == "timed out" {
            assert!(matches!(**cause, UsageError::Timeout { .. }), "{cause:?}");
        }
        // Through the poller's submit: the same error, inside `Submit`.
        let q = UsageQueries::new(client);
        match q.submit_organization(&query()).await.unwrap_err() {
            Error::Submit(UsageError::OutcomeUnknown { .. }) => {}
            other => panic!("{name}: expected Submit(OutcomeUnknown), got {other:?}"),
        }
        assert_eq!(
            server.count(SUBMIT),
            2,
            "{name}: one more submit, one more POST"
        );
    }
}
