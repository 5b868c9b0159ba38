//! Errors say the cause, the attempts and the time.

use super::*;

#[tokio::test]
async fn a_network_error_names_its_cause_attempts_and_time() {
    let dead = dead_port().await;
    let client = Client::builder()
        .base_url(&format!("http://{dead}"))
        .access_token("tok")
        .retry_policy(fast_retries().with_max_attempts(3))
        .build()
        .unwrap();
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Network { attempts: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("3 attempts over"), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
}

#[tokio::test]
async fn a_stalled_login_says_it_timed_out_and_how_often_it_tried() {
    let server = Hostile::start(|_, _| Act::Stall).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(150))
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let err = client.authenticate().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, AuthError::Network { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(text.contains("2 attempts over"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert_eq!(server.count(TOKEN), 2);
}
