//! Properties: arbitrary server values and user policies never panic; every id is one
//! segment or nothing is sent.

use std::sync::OnceLock;

use proptest::prelude::*;
use usage_tests::ManualClock;

use super::*;

/// One runtime for every case of the suite's property tests (a runtime per case would
/// spend the cases' time starting threads).
pub(super) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..5_000_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        Just("1e400".to_string()),
        Just("99999999999999999999999999".to_string()),
    ]
}

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    (
        0u32..6,
        duration(),
        duration(),
        duration(),
        duration(),
        any::<bool>(),
    )
        .prop_map(
            |(max_attempts, initial_backoff, max_backoff, max_elapsed, max_retry_after, jitter)| {
                RetryPolicy::default()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(initial_backoff)
                    .with_max_backoff(max_backoff)
                    .with_max_elapsed(max_elapsed)
                    .with_max_retry_after(max_retry_after)
                    .with_jitter(jitter)
            },
        )
}

fn poll_policy() -> impl Strategy<Value = PollPolicy> {
    let factor = prop_oneof![1.0f64..4.0, any::<f64>()];
    (duration(), factor, duration(), duration()).prop_map(
        |(initial_delay, factor, max_delay, max_wait)| {
            PollPolicy::default()
                .with_initial_delay(initial_delay)
                .with_factor(factor)
                .with_max_delay(max_delay)
                .with_max_wait(max_wait)
        },
    )
}

/// What the hostile server answers to API calls, until the fifth, which completes.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    retry_after: String,
    junk: String,
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        200u16..600,
        prop_oneof![number_text(), "[ -~]{0,24}"],
        "[!-~][ -~]{0,30}",
    )
        .prop_map(|(status, retry_after, junk)| Answer {
            status,
            retry_after,
            junk,
        })
}

async fn drive(
    expires_in: String,
    answer: Answer,
    retry: RetryPolicy,
    poll: PollPolicy,
) -> Result<(), TestCaseError> {
    let token = format!(r#"{{"access_token":"tok","expires_in":{expires_in}}}"#);
    let server = Hostile::start(move |req, earlier| {
        let api_calls = earlier.iter().filter(|l| l.path() != TOKEN).count();
        match req.path() {
            TOKEN => Act::json(200, &token),
            _ if api_calls >= 4 => {
                Act::json(200, json!({"queryStatus": "Complete", "results": []}))
            }
            _ => Act::json(
                answer.status,
                json!({"status": answer.status, "queryStatus": "Running"}),
            )
            .with("retry-after", &answer.retry_after)
            .with("x-junk", &answer.junk)
            .with("inin-correlation-id", &answer.junk),
        }
    })
    .await;
    let builder = || {
        Client::builder()
            .base_url(&server.url())
            .client_credentials(CLIENT_ID, SECRET)
            .no_proxy()
            .clock(ManualClock::new())
            .timeout(Duration::from_secs(2))
    };
    // A policy that cannot work is refused with a typed error; the server's values are
    // then driven through the default one.
    let client = match builder().retry_policy(retry).build() {
        Ok(client) => client,
        Err(refused) => {
            prop_assert!(refused.to_string().contains("retry policy"), "{}", refused);
            builder().build().unwrap()
        }
    };
    let _ = client.authenticate().await;
    let queries = match UsageQueries::new(client.clone()).with_policy(poll) {
        Ok(queries) => queries,
        Err(refused) => {
            prop_assert!(refused.to_string().contains("poll policy"));
            UsageQueries::new(client)
        }
    };
    let execution = Execution::organization("exec-1");
    let wait = execution.wait(&queries);
    let ended = tokio::time::timeout(Duration::from_secs(20), wait).await;
    prop_assert!(ended.is_ok(), "the wait did not end");
    if let Ok(Err(error)) = ended {
        // Every error prints, and says something.
        prop_assert!(!error.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_server_value_or_user_policy_panics(
        expires_in in number_text(),
        answer in answer(),
        retry in retry_policy(),
        poll in poll_policy(),
    ) {
        runtime().block_on(drive(expires_in, answer, retry, poll))?;
    }
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\\\/.%?#;=&+:@ \u{0}-\u{1f}\u{7f}a-zé€\u{1F600}-]{0,10}",
        Just(String::new()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just(r"x\..\y".to_string()),
        Just("%2e%2e".to_string()),
    ]
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn server() -> &'static (Hostile, Client) {
    static SERVER: OnceLock<(Hostile, Client)> = OnceLock::new();
    SERVER.get_or_init(|| {
        runtime().block_on(async {
            let server = Hostile::start(|_, _| running()).await;
            let client = Client::builder()
                .base_url(&server.url())
                .no_proxy()
                .retry_policy(RetryPolicy::disabled())
                .build()
                .unwrap();
            (server, client)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_id_is_one_segment_that_decodes_to_it_or_nothing_is_sent(
        client_id in id(),
        execution_id in id(),
    ) {
        let (server, client) = server();
        let before = server.log().len();
        let outcome = runtime().block_on(
            client.get_oauth_client_usage_query_result(&client_id, &execution_id),
        );
        let log = server.log();
        match outcome {
            Ok(_) => {
                prop_assert_eq!(log.len(), before + 1);
                let target = &log[before].target;
                let segments: Vec<&str> = target.split('/').collect();
                // "", api, v2, oauth, clients, {clientId}, usage, query, results, {executionId}
                prop_assert_eq!(segments.len(), 10, "{}", target);
                prop_assert_eq!(&segments[..5], &["", "api", "v2", "oauth", "clients"]);
                prop_assert_eq!(&segments[6..9], &["usage", "query", "results"]);
                prop_assert_eq!(percent_decode(segments[5]), Some(client_id));
                prop_assert_eq!(percent_decode(segments[9]), Some(execution_id));
            }
            Err(e) => {
                prop_assert_eq!(log.len(), before, "refused, yet sent");
                prop_assert!(matches!(e, UsageError::InvalidRequest(_)), "{:?}", e);
                let unusable = |id: &str| id.is_empty() || id == "." || id == "..";
                prop_assert!(unusable(&client_id) || unusable(&execution_id));
            }
        }
    }
}
