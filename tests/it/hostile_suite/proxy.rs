//! Credentials never go to a proxy in clear.

use super::*;

#[tokio::test]
async fn a_loopback_target_never_goes_through_a_proxy() {
    let proxy = Hostile::start(|_, _| Act::Close).await;
    let target = with_token(running()).await;
    let proxy_url = proxy.url();
    let env = move |name: &str| match name {
        "HTTP_PROXY" | "http_proxy" | "HTTPS_PROXY" | "ALL_PROXY" => Some(proxy_url.clone()),
        "GENESYSCLOUD_OAUTHCLIENT_ID" => Some(CLIENT_ID.into()),
        "GENESYSCLOUD_OAUTHCLIENT_SECRET" => Some(SECRET.into()),
        _ => None,
    };
    let from_env = ClientBuilder::from_env_with(env)
        .unwrap()
        .base_url(&target.url())
        .build()
        .unwrap();
    let explicit = Client::builder()
        .base_url(&target.url())
        .client_credentials(CLIENT_ID, SECRET)
        .proxy(proxy.url())
        .build()
        .unwrap();
    for client in [from_env, explicit] {
        poll(&client).await.unwrap();
    }
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
    assert_eq!(target.count(TOKEN), 2);
    assert_eq!(target.count(RESULTS), 2);
}

#[tokio::test]
async fn an_https_target_reaches_the_proxy_only_as_a_tunnel() {
    // The proxy refuses every tunnel: what matters is what it was shown.
    let proxy = Hostile::start(|_, _| Act::json(403, "")).await;
    let client = Client::builder()
        .base_urls("https://api.usage.test", "https://login.usage.test")
        .client_credentials(CLIENT_ID, SECRET)
        .proxy(proxy.url())
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = client.authenticate().await.unwrap_err();
    assert!(matches!(err, AuthError::Network { .. }), "{err:?}");
    let log = proxy.log();
    assert!(
        !log.is_empty(),
        "the https target was meant to use the proxy"
    );
    for request in &log {
        assert_eq!(request.method, "CONNECT", "{request:?}");
        assert_eq!(request.target, "login.usage.test:443");
        assert_eq!(request.header("authorization"), None, "{request:?}");
        assert!(request.body.is_empty());
    }
}

/// reqwest reads `HTTP_PROXY` from the process environment on its own; the client must
/// not let it. The environment is per process, so the check runs in a child process.
#[tokio::test]
async fn process_proxy_variables_never_see_a_plain_http_request() {
    const CHILD: &str = "USAGE_TESTS_PROXY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let target = with_token(running()).await;
        let client = Client::builder()
            .base_url(&target.url())
            .client_credentials(CLIENT_ID, SECRET)
            .build()
            .unwrap();
        poll(&client)
            .await
            .expect("the request went around the proxy");
        return;
    }
    let proxy = Hostile::start(|_, _| Act::Close).await;
    // The test's name in the harness is its module path without the binary's crate name.
    let (_, module) = module_path!().split_once("::").unwrap();
    let name = format!("{module}::process_proxy_variables_never_see_a_plain_http_request");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &name, "--test-threads=1"])
        .env(CHILD, "1")
        .env("HTTP_PROXY", proxy.url())
        .env("http_proxy", proxy.url())
        .env("HTTPS_PROXY", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
}
