#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod data;
mod errors;
mod faults;
mod ids;
mod jobs;
mod limits;
mod paging;
mod respond;
mod routes;
mod rows;
mod simple_search;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use data::{OAUTH_CLIENTS, ORG_SERIES, OWN_CLIENT};
pub use state::{Completion, FakeConfig, Fault, Operation, Outcome};

/// A running fake of the Usage API on `127.0.0.1`. Dropping it stops the server.
pub struct FakeService {
    addr: SocketAddr,
    state: Arc<state::State>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeService {
    /// Starts the fake on `127.0.0.1:0` (a free port) in the current tokio runtime.
    pub async fn start(config: FakeConfig) -> std::io::Result<Self> {
        Self::start_on(config, 0).await
    }

    /// Starts the fake on `127.0.0.1:<port>`.
    pub async fn start_on(config: FakeConfig, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(state::State::new(config));
        let app = routes::router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "usage-fake stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`: the API and the login base URL at once.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OAuth client id the fake accepts.
    pub fn client_id(&self) -> &str {
        &self.state.config.client_id
    }

    /// The OAuth client secret the fake accepts.
    pub fn client_secret(&self) -> &str {
        &self.state.config.client_secret
    }

    /// Requests received for `operation` so far, faulted ones included.
    pub fn requests(&self, operation: Operation) -> u64 {
        self.state.requests(operation)
    }

    /// Requests to `operation` answered 401 (no valid bearer token) so far.
    pub fn unauthorized(&self, operation: Operation) -> u64 {
        self.state.unauthorized(operation)
    }

    /// Requests received in all.
    pub fn total_requests(&self) -> u64 {
        Operation::ALL.iter().map(|&op| self.requests(op)).sum()
    }

    /// The `n`th request (1-based, counted per operation since start) to `operation` gets
    /// `fault` instead of its normal answer.
    pub fn fault_nth(&self, operation: Operation, n: u64, fault: Fault) {
        self.state.add_fault(operation, Some(n), fault);
    }

    /// Every further request to `operation` gets `fault`.
    pub fn fault_every(&self, operation: Operation, fault: Fault) {
        self.state.add_fault(operation, None, fault);
    }

    /// A share `rate` (0.0 to 1.0) of requests to `operations` gets a fault drawn from
    /// `kinds`, from a generator seeded with `seed`. Rules set with `fault_nth` and
    /// `fault_every` take precedence.
    pub fn fault_randomly(
        &self,
        rate: f64,
        seed: u64,
        operations: &[Operation],
        kinds: Vec<Fault>,
    ) {
        self.state.fault_randomly(rate, seed, operations, kinds);
    }

    /// Every fault answered so far, in order, with its operation.
    pub fn faults_served(&self) -> Vec<(Operation, Fault)> {
        self.state.faults_served()
    }

    /// A share `rate` of queries submitted from now on end `Failed` (seeded).
    pub fn set_failed_rate(&self, rate: f64) {
        self.state.set_failed_rate(rate);
    }

    /// The body a `Complete` answer for `execution_id` carries, and whether the
    /// execution ends `Failed` instead; `None` for an unknown id. Lets a test check the
    /// rows a client received against what the fake sent.
    pub fn expected_result(&self, execution_id: &str) -> Option<(Vec<u8>, Outcome)> {
        let execution = self.state.execution(execution_id)?;
        Some((rows::complete_body(&execution), execution.outcome))
    }

    /// Removes every fault rule and stops random faults.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// Issues an access token the fake accepts, as its token endpoint would: for tests of a
    /// tool configured with a ready token rather than client credentials.
    pub fn issue_token(&self) -> String {
        self.state.issue_token()
    }

    /// Every token issued so far stops being valid (the API answers 401 to it).
    pub fn expire_tokens(&self) {
        self.state.expire_tokens();
    }

    /// How many executions (submitted queries) the fake holds.
    pub fn executions(&self) -> usize {
        self.state.executions()
    }

    /// Changes how queries submitted from now on end.
    pub fn set_completion(&self, completion: Completion, outcome: Outcome) {
        self.state.set_completion(completion, outcome);
    }

    /// Changes how many rows queries submitted from now on return.
    pub fn set_rows(&self, rows: usize) {
        self.state.set_rows(rows);
    }

    /// Serves until the task is stopped (the binary's main loop).
    pub async fn wait(self) {
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for FakeService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for FakeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeService")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The body of a `Complete` answer with `rows` rows (grouped by every dimension, one day
/// of an org with `rows` series seeded with `seed`), as the fake would send it: for
/// benchmarks of decoding.
pub fn sample_result_body(rows: usize, seed: u64) -> Vec<u8> {
    let day = data::last_day_with_data();
    let cut = data::Cut {
        client: None,
        dims: vec![
            data::Dim::Client,
            data::Dim::Organization,
            data::Dim::User,
            data::Dim::Template,
            data::Dim::Method,
        ],
        granularity: Some(usage_models::Granularity::Day),
        first: day,
        last: day,
        filters: data::Filters::default(),
        sort: Vec::new(),
    };
    let execution = state::Execution {
        owner: state::Owner::Organization,
        submitted: tokio::time::Instant::now(),
        polls: 0,
        completion: Completion::AfterPolls(0),
        outcome: Outcome::Complete,
        seed,
        kind: state::Kind::Query,
        metrics: Vec::new(),
        rows: Arc::new(cut.rows(seed, rows)),
    };
    rows::complete_body(&execution)
}

/// The default wait before a token the fake issued lapses.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);
