//! Redirects are never followed.

use super::*;

#[tokio::test]
async fn redirects_are_never_followed_for_api_calls() {
    let other = Hostile::start_on("127.0.0.2", |_, _| submitted()).await;
    let dead = dead_port().await;
    for status in [301u16, 302, 303, 307, 308] {
        for location in [
            format!("http://{dead}{SUBMIT}"),
            format!("{}{SUBMIT}", other.url()),
        ] {
            let to = location.clone();
            let server = Hostile::start(move |req, _| match req.path() {
                TOKEN => token_ok(),
                _ => Act::redirect(status, &to),
            })
            .await;
            let client = builder(&server).build().unwrap();
            for (err, path) in [
                (submit(&client).await.unwrap_err(), SUBMIT),
                (poll(&client).await.unwrap_err(), RESULTS),
            ] {
                match &err {
                    UsageError::Redirected {
                        status: s,
                        location: Some(l),
                    } => assert_eq!((*s, l.as_str()), (status, location.as_str())),
                    other => panic!("{status}: expected Redirected, got {other:?}"),
                }
                assert!(!err.is_transient());
                assert!(err.to_string().contains("never redirects"), "{err}");
                assert_eq!(server.count(path), 1, "{status} {path}: sent once");
            }
        }
    }
    assert!(other.log().is_empty(), "a redirect reached another origin");
}

#[tokio::test]
async fn a_redirected_login_keeps_the_credentials_home() {
    let other = Hostile::start_on("127.0.0.2", |_, _| token_ok()).await;
    let to = format!("{}{TOKEN}", other.url());
    let server = Hostile::start(move |_, _| Act::redirect(307, &to)).await;
    let client = builder(&server).build().unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(
        matches!(err, AuthError::Redirected { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(server.count(TOKEN), 1);
    assert!(other.log().is_empty(), "credentials followed a redirect");
    let err = poll(&client).await.unwrap_err();
    assert!(
        matches!(err, UsageError::Auth(AuthError::Redirected { .. })),
        "{err:?}"
    );
    assert_eq!(server.count(RESULTS), 0);
}
