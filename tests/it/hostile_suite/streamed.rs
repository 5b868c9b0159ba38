//! Streamed results: the original queries' results are decoded as the body arrives, inside
//! the same pipeline as every operation: the same caps and typed errors; a break mid-body
//! is a transport failure, retried for a GET, and the poller (which sends each poll once)
//! polls again.

use super::*;

async fn streamed(client: &Client) -> Result<usize, UsageError> {
    Ok(client
        .get_usage_query_execution_id_results("exec-1")
        .await?
        .results
        .len())
}

#[tokio::test]
async fn a_streamed_result_stops_at_the_cap_or_before_an_oversized_length() {
    endless_result_stops_at_the_cap(async |client| streamed(client).await.map(drop)).await;

    let declared = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        _ => Act::json(200, "").with("content-length", 10u64 << 30),
    })
    .await;
    let client = builder(&declared)
        .max_response_bytes(MIB)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = streamed(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::ResponseTooLarge { declared: Some(n), .. } if n == 10u64 << 30),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_streamed_result_broken_mid_body_is_transient_and_polled_again() {
    let answer = json!({"results": [{"requests": 1}, {"requests": 2}], "queryStatus": "Complete"})
        .to_string();
    // The first `broken` result answers break off half way; the next is whole.
    let server_breaking = |broken: usize| {
        let answer = answer.clone();
        Hostile::start(move |req, earlier| match req.path() {
            TOKEN => token_ok(),
            _ if earlier.iter().filter(|l| l.path() == RESULTS).count() < broken => {
                Act::CloseMidBody {
                    status: 200,
                    declared: answer.len(),
                    sent: answer.as_bytes()[..answer.len() / 2].to_vec(),
                }
            }
            _ => Act::json(200, &answer),
        })
    };
    // A GET broken mid-body is retried by the pipeline like any transport failure.
    let server = server_breaking(2).await;
    let client = builder(&server).build().unwrap();
    assert_eq!(streamed(&client).await.unwrap(), 2);
    assert_eq!(
        server.count(RESULTS),
        3,
        "two broken sends, then the whole answer"
    );
    // Past max_attempts, the error is transient and counts every send.
    let server = server_breaking(10).await;
    let client = builder(&server).build().unwrap();
    let err = streamed(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Network { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.count(RESULTS), 4);
    // Under the poller each poll is sent once: a broken poll, then the poller polls again.
    let server = server_breaking(1).await;
    let client = builder(&server).build().unwrap();
    let result = Execution::organization("exec-1")
        .wait(&queries(client, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(result.results.len(), 2);
    assert_eq!(
        server.count(RESULTS),
        2,
        "one broken poll, then the whole answer"
    );
}

#[tokio::test]
async fn a_streamed_result_that_is_not_a_result_is_a_decode_error_and_agrees_with_the_whole_body() {
    let cases = [
        ("<html><body>502 Bad Gateway</body></html>", false),
        (
            r#"{"results":[{"requests":"many"}],"queryStatus":"Complete"}"#,
            false,
        ),
        (
            r#"{"results":[{"requests":1},],"queryStatus":"Complete"}"#,
            false,
        ),
        (r#"{"results":[{"requests":1}"#, false),
        (
            r#"{"queryStatus":"Complete","cursors":{"after":"]"},"results":[{"clientId":"a\"]","requests":1,"date":"2026-10-01T00:00:00Z"},{"status429":2,"x":[{"y":"}"}]}],"z":null}"#,
            true,
        ),
    ];
    for (body, valid) in cases {
        let server = with_token(Act::json(200, body)).await;
        let client = builder(&server).build().unwrap();
        let ours = client.get_usage_query_execution_id_results("exec-1").await;
        let whole = serde_json::from_str::<usage_client::models::ApiUsageQueryResult>(body);
        match (ours, whole) {
            (Ok(ours), Ok(whole)) => {
                assert!(valid, "{body}");
                assert_eq!(ours, whole, "{body}");
            }
            (Err(ours), Err(_)) => {
                assert!(!valid, "{body}: {ours}");
                assert!(
                    matches!(ours, UsageError::Decode { .. }),
                    "{body}: {ours:?}"
                );
            }
            (ours, whole) => panic!("{body}: streamed {ours:?}, whole {whole:?}"),
        }
        assert_eq!(server.count(RESULTS), 1, "{body}: one send, no retry");
    }
}
