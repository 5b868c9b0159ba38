//! Tracing spans carry what a user needs to follow a request, and no secret (client
//! secret, access token, Basic credentials) ever shows up in logs at TRACE, in error
//! text, or in `Debug` output of configuration and clients.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use usage_client::{Client, ClientBuilder, RetryPolicy, UsageError};
use usage_tests::{ManualClock, Reply, Scripted, Seen};

const SECRET: &str = "s3cr3t-Do-Not-Print";
const TOKEN: &str = "live-token-Do-Not-Print";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn tokens_issued(earlier: &[Seen]) -> usize {
    earlier.iter().filter(|s| s.path == "/oauth/token").count()
}

/// Every way a secret could leak, formatted into one string.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}

/// Set in the process of its own that the test re-runs itself in.
const ALONE: &str = "USAGE_TESTS_OBSERVABILITY_ALONE";
const NAME: &str = "observability::spans_name_the_request_and_no_secret_is_ever_printed";

/// The logs are captured by a global subscriber in a process that runs this test alone.
/// In the shared test binary a thread-local subscriber missed events while other tests
/// ran: tracing caches each callsite's interest process-wide, and a callsite first hit by
/// another test, with no subscriber, could be cached as never enabled.
#[test]
fn spans_name_the_request_and_no_secret_is_ever_printed() {
    if std::env::var_os(ALONE).is_some() {
        return captured_alone();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([NAME, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ALONE, "1")
        .output()
        .expect("the test binary runs again");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the test in its own process:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the test ran in its own process:\n{text}"
    );
}

#[tokio::main(flavor = "current_thread")]
async fn captured_alone() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let server = Scripted::start(|req, earlier| {
        let results_calls = earlier
            .iter()
            .filter(|s| s.path.ends_with("/results"))
            .count();
        match req.path.as_str() {
            "/oauth/token" => Reply::json(
                200,
                format!(
                    r#"{{"access_token":"{TOKEN}-{}","token_type":"bearer","expires_in":86400}}"#,
                    tokens_issued(earlier) + 1
                ),
            ),
            // First call: the token is refused once, then the call succeeds.
            _ if results_calls == 0 => Reply::json(401, r#"{"status":401}"#),
            _ if results_calls == 1 => Reply::json(200, r#"{"queryStatus":"Running"}"#)
                .header("ININ-Correlation-Id", "corr-obs-1"),
            // Second call: rate limited far past the cap.
            _ => Reply::json(429, r#"{"status":429,"code":"too.many.requests"}"#)
                .header("Retry-After", "900")
                .header("ININ-Correlation-Id", "corr-obs-2"),
        }
    })
    .await;
    let clock = ManualClock::new();
    let builder = Client::builder()
        .base_url(&server.base_url)
        .client_credentials("client-id", SECRET)
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().with_jitter(false));
    let mut printed = format!("{builder:?}\n");
    let client = builder.build().unwrap();
    printed.push_str(&format!("{client:?}\n"));

    client
        .get_usage_query_execution_id_results("exec-1")
        .await
        .unwrap();
    let limited: UsageError = client
        .get_usage_query_execution_id_results("exec-1")
        .await
        .unwrap_err();
    assert_eq!(limited.correlation_id(), Some("corr-obs-2"));
    assert!(
        matches!(limited, UsageError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(900))
    );
    printed.push_str(&describe(&limited));

    // A login failure, and its text.
    let refusing = Scripted::start(|_, _| {
        Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"bad secret"}"#,
        )
    })
    .await;
    let client = Client::builder()
        .base_url(&refusing.base_url)
        .client_credentials("client-id", SECRET)
        .build()
        .unwrap();
    printed.push_str(&describe(&client.authenticate().await.unwrap_err()));
    let via_call: UsageError = client
        .get_usage_query_execution_id_results("exec-1")
        .await
        .unwrap_err();
    printed.push_str(&describe(&via_call));
    printed.push_str(&format!(
        "{:?}\n",
        ClientBuilder::from_env_with(|k| match k {
            "GENESYSCLOUD_ACCESS_TOKEN" => Some(TOKEN.to_string()),
            _ => None,
        })
        .unwrap()
    ));

    let logs = logs.text();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("client-id:{SECRET}"));
    for secret in [SECRET, TOKEN, basic.as_str(), "Do-Not-Print"] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
        assert!(
            !printed.contains(secret),
            "{secret} leaked into output:\n{printed}"
        );
    }
    // The server did receive them: the test would notice if nothing had been sent.
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.header("authorization").is_some_and(|a| a.contains(TOKEN)))
    );

    // Each attempt is an event of its own: the successful one names its status and
    // correlation id, inside the span that names the operation.
    let event = logs
        .lines()
        .find(|l| l.contains(" response ") && l.contains("correlation_id=\"corr-obs-1\""))
        .unwrap_or_else(|| panic!("no response event with the correlation id:\n{logs}"));
    for field in [
        "usage_api.request",
        "operation_id=\"getUsageQueryExecutionIdResults\"",
        "method=GET",
        "attempt=2",
        "status=200",
        "duration_ms=",
    ] {
        assert!(event.contains(field), "{field} missing in: {event}");
    }
    // The refused first attempt has its event too, and the rate limit its id.
    assert!(
        logs.lines().any(|l| l.contains(" response ")
            && l.contains("attempt=1")
            && l.contains("status=401")),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(" response ") && l.contains("correlation_id=\"corr-obs-2\"")),
        "{logs}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
}
