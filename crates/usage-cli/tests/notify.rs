//! `check --notify URL`: one POST per run to a webhook on this machine (a server of the
//! test's own), in the shape asked for, retried on 429 after its Retry-After, never with
//! the URL printed; none when every rule passed; a bad URL refused before anything is sent.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{against, text};
use serde_json::Value;
use usage_fake::{FakeConfig, FakeService};

/// A status and the Retry-After beside it.
type Answer = (u16, Option<&'static str>);

/// What the webhook received, and what it answers each POST in turn (then 200).
#[derive(Clone, Default)]
struct Hook {
    received: Arc<Mutex<Vec<(Instant, Value)>>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

async fn take(State(hook): State<Hook>, body: String) -> impl IntoResponse {
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    hook.received.lock().unwrap().push((Instant::now(), json));
    let (status, retry_after) = {
        let mut answers = hook.answers.lock().unwrap();
        if answers.is_empty() {
            (200, None)
        } else {
            answers.remove(0)
        }
    };
    let mut headers = axum::http::HeaderMap::new();
    if let Some(seconds) = retry_after {
        headers.insert("retry-after", seconds.parse().unwrap());
    }
    (StatusCode::from_u16(status).unwrap(), headers, "")
}

/// A webhook on 127.0.0.1 with a secret in its path; its URL and what it received.
async fn webhook(answers: Vec<Answer>) -> (String, Hook) {
    let hook = Hook::default();
    *hook.answers.lock().unwrap() = answers;
    let app = axum::Router::new()
        .route("/hooks/{*key}", axum::routing::post(take))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hooks/T0/s3cr3t-k3y"), hook)
}

async fn run(fake: &FakeService, args: Vec<String>) -> std::process::Output {
    let mut cmd = against(fake);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_sends_one_alert_per_run_with_its_breaches() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    // A 429 with Retry-After: 2 first (longer than the backoff), then taken.
    let (url, hook) = webhook(vec![(429, Some("2"))]).await;
    let out = run(
        &fake,
        args(&[
            "check",
            "--since",
            "7d",
            "--max-429",
            "0",
            "--format",
            "json",
            "--notify",
            &url,
        ]),
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("the alert went to the webhook at 127.0.0.1"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cr3t"),
        "the URL is never printed: {stderr}"
    );
    let printed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "the 429, then the one taken");
    assert!(
        received[1].0 - received[0].0 >= Duration::from_millis(1900),
        "Retry-After honoured"
    );
    let body = &received[1].1;
    assert_eq!(body, &received[0].1, "the same alert again");
    assert_eq!(body["source"], "genesys-usage");
    assert_eq!(body["command"], "check");
    assert_eq!(
        body["breaches"].as_array().unwrap().len(),
        printed.len(),
        "the breaches check printed"
    );
    let first = printed[0]["oauthClientId"].as_str().unwrap();
    assert!(
        body["text"].as_str().unwrap().contains(&format!(
            "genesys-usage evidence --client {first} --interval "
        )),
        "{body}"
    );

    // Slack's shape: the text alone, in its markup.
    let (url, hook) = webhook(Vec::new()).await;
    let out = run(
        &fake,
        args(&[
            "check",
            "--since",
            "7d",
            "--max-429",
            "0",
            "--notify",
            &url,
            "--notify-format",
            "slack",
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let body = received[0].1.as_object().unwrap();
    assert_eq!(body.keys().collect::<Vec<_>>(), ["text"]);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("*genesys-usage check: ")
    );

    // From the environment, where no `ps` shows it.
    let (url, hook) = webhook(Vec::new()).await;
    let mut cmd = against(&fake);
    cmd.args(["check", "--since", "7d", "--max-429", "0"])
        .env("GENESYS_USAGE_NOTIFY_URL", &url);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(hook.received.lock().unwrap().len(), 1);

    // Every rule passed: nothing is sent.
    let (url, hook) = webhook(Vec::new()).await;
    let out = run(
        &fake,
        args(&[
            "check",
            "--since",
            "7d",
            "--max-429-share",
            "100%",
            "--notify",
            &url,
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(hook.received.lock().unwrap().is_empty());

    // A refusal is the answer: one POST, said, and the exit code is the rules'.
    let (url, hook) = webhook(vec![(400, None)]).await;
    let out = run(
        &fake,
        args(&["check", "--since", "7d", "--max-429", "0", "--notify", &url]),
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(hook.received.lock().unwrap().len(), 1);
    assert!(
        stderr.contains("could not be delivered to the webhook at 127.0.0.1: it answered 400"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_cannot_be_one_is_refused_before_anything_is_sent() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    for url in [
        "http://alerts.example.com/hooks/s3cr3t",
        "ftp://alerts.example.com/s3cr3t",
    ] {
        let out = run(
            &fake,
            args(&["check", "--since", "7d", "--max-429", "0", "--notify", url]),
        )
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--notify"), "{stderr}");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
    }
    let out = run(
        &fake,
        args(&[
            "check",
            "--since",
            "7d",
            "--max-429",
            "0",
            "--notify-format",
            "slack",
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--notify-format needs a webhook"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fake.total_requests(), 0);
}
