//! The fault suite: the client's safety promises against a server that sends what it likes
//! (`usage_tests::hostile`). One module per promise; where a promise names a number
//! (requests sent, a time bound, bytes read), the test asserts it. The "Failure behaviour"
//! table in `crates/usage-client/README.md` names these tests row by row.

use std::time::{Duration, Instant};

use serde_json::json;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_client::{AuthError, Client, ClientBuilder, RetryPolicy, UsageError};
use usage_ext::{Error, Execution, PollPolicy, PollStatus, UsageQueries};
use usage_tests::hostile::{Act, Hostile, Logged, dead_port};

const CLIENT_ID: &str = "hostile-client";
const SECRET: &str = "s3cr3t-Do-Not-Print";
const TOKEN: &str = "/oauth/token";
const SUBMIT: &str = "/api/v2/usage/query";
const RESULTS: &str = "/api/v2/usage/query/exec-1/results";

fn token_ok() -> Act {
    Act::json(
        200,
        json!({"access_token": "tok", "token_type": "bearer", "expires_in": 86_400}),
    )
}

/// A server that issues tokens and answers every API request with `answer`.
async fn with_token(answer: Act) -> Hostile {
    Hostile::start(move |req, _| match req.path() {
        TOKEN => token_ok(),
        _ => answer.clone(),
    })
    .await
}

fn running() -> Act {
    Act::json(200, json!({"queryStatus": "Running"}))
}

fn submitted() -> Act {
    Act::json(202, json!({"executionId": "exec-1"}))
}

fn tokens(earlier: &[Logged]) -> usize {
    earlier.iter().filter(|l| l.path() == TOKEN).count()
}

/// Fast retries, so that a test about counts does not wait for backoffs.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

fn builder(server: &Hostile) -> ClientBuilder {
    Client::builder()
        .base_url(&server.url())
        .client_credentials(CLIENT_ID, SECRET)
        .no_proxy()
        .retry_policy(fast_retries())
        .jitter_seed(3)
}

fn query() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z")
}

async fn submit(client: &Client) -> Result<(), UsageError> {
    client.post_usage_query(&query()).await?;
    Ok(())
}

async fn poll(client: &Client) -> Result<(), UsageError> {
    client
        .get_usage_query_execution_id_results("exec-1")
        .await?;
    Ok(())
}

fn queries(client: Client, max_wait: Duration) -> UsageQueries {
    UsageQueries::new(client)
        .with_policy(PollPolicy::default().with_max_wait(max_wait))
        .expect("a valid poll policy")
}

const MIB: u64 = 1024 * 1024;

/// The wait the suite's `max_wait` tests give the poller.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// A 200 whose chunked body never ends: `ResponseTooLarge` at the cap, one send, and the
/// server got out little more than the cap.
async fn endless_result_stops_at_the_cap(call: impl AsyncFn(&Client) -> Result<(), UsageError>) {
    let server = with_token(Act::EndlessChunked { status: 200 }).await;
    let client = builder(&server).max_response_bytes(MIB).build().unwrap();
    let started = Instant::now();
    let err = call(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            UsageError::ResponseTooLarge {
                status: 200,
                limit: MIB,
                declared: None
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.count(RESULTS),
        1,
        "a body over the cap is not retried"
    );
    // The client stopped reading at the cap: what the server got out is the cap plus
    // what the loopback socket buffers hold, not gigabytes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let written = server.body_bytes_written();
    assert!(written < 32 * MIB, "{written} bytes left the server");
}

mod body_cap;
mod change_request_windows;
mod cli_counts;
mod cursor_cycle;
mod error_messages;
mod events_cycle;
mod failure_table;
mod last_poll;
mod limit_named;
mod limits_values;
mod login_outage;
mod max_wait;
mod no_panic;
mod outage;
mod path_segment;
mod pipeline;
mod properties;
mod proxy;
mod redirects;
mod retry_after;
mod retry_budget;
mod streamed;
mod token_burst;
mod token_header;
mod unknown_outcome;
