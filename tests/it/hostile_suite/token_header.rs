//! A token a header cannot carry is refused, never dropped.

use super::*;

#[tokio::test]
async fn a_token_a_header_cannot_carry_is_refused() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => Act::json(
            200,
            json!({"access_token": "tok\r\nX-Injected: yes", "expires_in": 3600}),
        ),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidToken), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("X-Injected"));
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::InvalidToken)),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0, "nothing went out without a token");

    let fixed = Client::builder()
        .base_url(&server.url())
        .access_token("abc\ndef")
        .build()
        .unwrap();
    assert!(matches!(
        fixed.authenticate().await,
        Err(AuthError::InvalidToken)
    ));
    let err = poll(&fixed).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::InvalidToken)),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0);
}
