//! What every test of `genesys-usage` shares: the binary with a clean environment, the
//! binary against a fake, scratch directories and text of a run's output.

// Each test file uses some of these; the others would be dead code in its crate.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use usage_fake::FakeService;

/// The test's clock, for a command whose environment is cleared: `.ci/dates` runs the
/// date-sensitive tests under libfaketime at fixed dates (`LD_PRELOAD` and the `FAKETIME*`
/// variables), and the tool a test starts must read the same date as the test and its fake.
pub fn clock() -> Vec<(String, std::ffi::OsString)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            let kept = name == "LD_PRELOAD"
                || name.starts_with("FAKETIME")
                || name == "DONT_FAKE_MONOTONIC";
            kept.then_some((name, value))
        })
        .collect()
}

/// The binary with nothing in its environment (no credentials, no locale) but the test's
/// clock, help wrapped at 100 columns, and a bound on how long it may run.
pub fn tool() -> Command {
    let mut cmd = Command::cargo_bin("genesys-usage").unwrap();
    cmd.env_clear().env("COLUMNS", "100").envs(clock());
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// The binary against `fake`, with its credentials and nothing else in the environment.
pub fn against(fake: &FakeService) -> Command {
    let mut cmd = tool();
    cmd.args(["--base-url", &fake.base_url()])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret());
    cmd
}

/// A place under the target's temporary directory that does not exist yet.
pub fn fresh(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// An empty directory under the target's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = fresh(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A run's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The 429 shares of the calmest and the busiest client of a report's JSON: a threshold
/// between them is passed by some clients and not by all, whatever the week holds.
pub fn share_range(clients: &[serde_json::Value]) -> (f64, f64) {
    clients
        .iter()
        .map(|c| c["status429Share"].as_f64().unwrap())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s), hi.max(s))
        })
}

/// What a webhook on 127.0.0.1 received: each POST's JSON body, in order.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// A webhook on 127.0.0.1 that takes every POST (200), with a secret in its path (a test
/// checks it is never printed); its URL and what it received.
pub async fn webhook() -> (String, Received) {
    let received = Received::default();
    let app =
        axum::Router::new()
            .route(
                "/hooks/{*key}",
                axum::routing::post(
                    |axum::extract::State(received): axum::extract::State<Received>,
                     body: String| async move {
                        received
                            .lock()
                            .unwrap()
                            .push(serde_json::from_str(&body).unwrap());
                        ""
                    },
                ),
            )
            .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hooks/s3cr3t"), received)
}

/// The SDK's queries against `fake`: what a test compares the tool's answers with.
pub fn queries(fake: &FakeService) -> usage_ext::UsageQueries {
    let client = usage_ext::client::Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
        .no_proxy()
        .build()
        .unwrap();
    usage_ext::UsageQueries::new(client)
}
