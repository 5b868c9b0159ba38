//! One token fetch for a burst, whatever the token's text or lifetime.

use super::*;

/// `n` polls on clones of `client` at once; each must succeed.
async fn polls_at_once(client: &Client, n: usize) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        calls.spawn(async move { poll(&client).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_401s_renews_once_when_the_login_reissues_the_same_token() {
    // Until the second token request, every API call is refused; the login service hands
    // out the same text every time.
    let server = Hostile::start(|req, earlier| match req.path() {
        TOKEN => token_ok(),
        _ if tokens(earlier) < 2 => Act::json(401, json!({"status": 401})),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    polls_at_once(&client, 100).await;
    assert_eq!(server.count(TOKEN), 2);
    let sent = server.count(RESULTS);
    assert!(
        sent > 100,
        "the burst did meet 401s: {sent} requests for 100 calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_lifetime_token_is_shared_by_concurrent_callers() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => Act::json(200, json!({"access_token": "tok", "expires_in": 0})),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    polls_at_once(&client, 50).await;
    assert_eq!(server.count(TOKEN), 1);
    assert_eq!(server.count(RESULTS), 50);
}
