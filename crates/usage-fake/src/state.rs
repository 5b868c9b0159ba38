//! What the fake remembers: configuration, tokens, executions, counters and fault rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::data::{Cell, Cut};
use crate::ids;
use tokio::time::Instant;

/// The state every route shares.
pub(crate) type Shared = std::sync::Arc<State>;

/// The operations the fake serves, the token endpoint included.
/// Non-exhaustive: upstream adds operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /oauth/token`
    Token,
    /// `POST /api/v2/usage/query`
    PostUsageQuery,
    /// `GET /api/v2/usage/query/{executionId}/results`
    GetUsageQueryExecutionIdResults,
    /// `POST /api/v2/oauth/clients/{clientId}/usage/query`
    PostOauthClientUsageQuery,
    /// `GET /api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}`
    GetOauthClientUsageQueryResult,
    /// `GET /api/v2/oauth/clients/{clientId}/usage/summary`
    GetOauthClientUsageSummary,
    /// `POST /api/v2/usage/aggregates/query/jobs`
    PostUsageAggregatesQueryJobs,
    /// `GET /api/v2/usage/aggregates/query/jobs/{jobId}`
    GetUsageAggregatesQueryJob,
    /// `POST /api/v2/usage/client/{clientId}/aggregates/query/jobs`
    PostUsageClientClientIdAggregatesQueryJobs,
    /// `GET /api/v2/usage/client/{clientId}/aggregates/query/jobs/{jobId}`
    GetUsageClientClientIdAggregatesQueryJob,
    /// `POST /api/v2/usage/simplesearch`
    PostUsageSimplesearch,
    /// `GET /api/v2/usage/simplesearch/{executionId}/results`
    GetUsageSimplesearchExecutionIdResults,
    /// `POST /api/v2/analytics/ratelimits/aggregates/query`
    PostAnalyticsRatelimitsAggregatesQuery,
    /// `GET /api/v2/organizations/limits/namespaces`
    GetOrganizationsLimitsNamespaces,
    /// `GET /api/v2/organizations/limits/namespaces/{namespaceName}`
    GetOrganizationsLimitsNamespace,
    /// `GET /api/v2/organizations/limits/namespaces/{namespaceName}/defaults`
    GetOrganizationsLimitsNamespaceDefaults,
    /// `GET /api/v2/organizations/limits/docs`
    GetOrganizationsLimitsDocs,
    /// `GET /api/v2/organizations/limits/changerequests`
    GetOrganizationsLimitsChangerequests,
    /// `GET /api/v2/organizations/limits/changerequests/{requestId}`
    GetOrganizationsLimitsChangerequest,
    /// `GET /api/v2/usage/events/definitions`
    GetUsageEventsDefinitions,
    /// `GET /api/v2/usage/events/definitions/{eventDefinitionId}`
    GetUsageEventsDefinition,
    /// `POST /api/v2/usage/events/query`
    PostUsageEventsQuery,
    /// `POST /api/v2/usage/events/aggregates/query`
    PostUsageEventsAggregatesQuery,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 23] = [
        Operation::Token,
        Operation::PostUsageQuery,
        Operation::GetUsageQueryExecutionIdResults,
        Operation::PostOauthClientUsageQuery,
        Operation::GetOauthClientUsageQueryResult,
        Operation::GetOauthClientUsageSummary,
        Operation::PostUsageAggregatesQueryJobs,
        Operation::GetUsageAggregatesQueryJob,
        Operation::PostUsageClientClientIdAggregatesQueryJobs,
        Operation::GetUsageClientClientIdAggregatesQueryJob,
        Operation::PostUsageSimplesearch,
        Operation::GetUsageSimplesearchExecutionIdResults,
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        Operation::GetOrganizationsLimitsNamespaces,
        Operation::GetOrganizationsLimitsNamespace,
        Operation::GetOrganizationsLimitsNamespaceDefaults,
        Operation::GetOrganizationsLimitsDocs,
        Operation::GetOrganizationsLimitsChangerequests,
        Operation::GetOrganizationsLimitsChangerequest,
        Operation::GetUsageEventsDefinitions,
        Operation::GetUsageEventsDefinition,
        Operation::PostUsageEventsQuery,
        Operation::PostUsageEventsAggregatesQuery,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// When a submitted query stops answering `Running`.
#[derive(Clone)]
pub enum Completion {
    /// After this many result polls answered `Running`.
    AfterPolls(u32),
    /// Once this much (real) time has passed since submission.
    AfterTime(Duration),
    /// Once this returns true, asked at each poll: completion on a simulated clock, or on
    /// any condition a test controls.
    When(Arc<dyn Fn() -> bool + Send + Sync>),
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Completion::AfterPolls(n) => f.debug_tuple("AfterPolls").field(n).finish(),
            Completion::AfterTime(d) => f.debug_tuple("AfterTime").field(d).finish(),
            Completion::When(_) => f.write_str("When(..)"),
        }
    }
}

/// How a query ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `Complete` with rows.
    Complete,
    /// `Failed` (a job's answer carries an `errorBody`).
    Failed,
    /// `Cancelled`: for a job or a simple search; the old queries, which have no such
    /// status, answer `Failed`.
    Cancelled,
}

/// A fault answered instead of the normal response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with an `ErrorBody`, and `Retry-After` if given (sent verbatim).
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header value.
        retry_after: Option<String>,
    },
    /// Waits this long (real time), then answers normally.
    Delay(Duration),
    /// Sends the headers and half the body, then breaks the connection.
    DropConnection,
    /// A complete HTTP answer whose JSON stops half way.
    Truncated,
    /// `200` with a body that is not JSON.
    Malformed,
    /// The normal answer with unlisted enum values and unknown fields added.
    UnknownValues,
    /// A redirect to `location` (a misconfigured front end); the request is not acted on.
    Redirect {
        /// The HTTP status (301, 302, 307, ...).
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// The normal answer (acted on), padded with trailing spaces to at least this many
    /// bytes: still valid JSON, but larger than a client's cap may allow.
    Oversized(usize),
    /// For [`Operation::Token`]: the token answer with `expires_in` replaced by this JSON
    /// number, verbatim (`18446744073709551615`, `1e19`, `-1`): values a broken login
    /// service sends.
    ExpiresIn(String),
}

impl Fault {
    /// A 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(seconds: u64) -> Self {
        Fault::Status {
            status: 429,
            retry_after: Some(seconds.to_string()),
        }
    }

    /// A bare status with an `ErrorBody` and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
        }
    }
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The OAuth client id the token endpoint accepts. The default is the org's own
    /// reporting client ([`crate::OWN_CLIENT`]), whose usage the fake serves like any other
    /// client's; another id logs in but is not one of the org's clients.
    pub client_id: String,
    /// The OAuth client secret the token endpoint accepts.
    pub client_secret: String,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Duration,
    /// When submitted queries complete.
    pub completion: Completion,
    /// How they end.
    pub outcome: Outcome,
    /// The org's usage series (one OAuth client calling one endpoint as one user, with
    /// traffic every day up to yesterday): the rows of a query grouped by client, user and
    /// templateUri without granularity (0 to 1,000,000 and more). Other queries sum the
    /// series into fewer rows, or split them into date buckets.
    pub rows: usize,
    /// Seed of ids and rows: the same seed gives the same answers.
    pub seed: u64,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            client_id: crate::data::OWN_CLIENT.0.into(),
            client_secret: "fake-oauth-client-secret".into(),
            token_lifetime: crate::DEFAULT_TOKEN_LIFETIME,
            completion: Completion::AfterPolls(2),
            outcome: Outcome::Complete,
            rows: 24,
            seed: 42,
        }
    }
}

/// Who may read an execution's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    Organization,
    Client(String),
}

/// Which routes serve an execution: a job's id is unknown to the query routes and the
/// other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Job,
    SimpleSearch,
}

#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub owner: Owner,
    pub submitted: Instant,
    pub polls: u32,
    pub completion: Completion,
    pub outcome: Outcome,
    /// This execution's own seed: its cursors are checked under it.
    pub seed: u64,
    pub kind: Kind,
    /// The metrics the query selected, as sent (`Status429`, `Requests`, ...); empty: all.
    pub metrics: Vec<String>,
    /// The answer's rows, cut from the org's data when the query was submitted.
    pub rows: Arc<Vec<Cell>>,
}

impl Execution {
    /// Whether a row carries the counter of `metric` (`Status200`, ..., `Requests`).
    pub fn selects(&self, metric: &str) -> bool {
        self.metrics.is_empty() || self.metrics.iter().any(|m| m == metric)
    }
}

#[derive(Debug)]
struct FaultRule {
    operation: Operation,
    nth: Option<u64>,
    fault: Fault,
}

/// Faults drawn at random (seeded) for a share of requests.
#[derive(Debug)]
struct RandomFaults {
    rate: f64,
    operations: Vec<Operation>,
    kinds: Vec<Fault>,
    rng: fastrand::Rng,
}

#[derive(Debug)]
struct Mutable {
    completion: Completion,
    outcome: Outcome,
    rows: usize,
    failed_rate: f64,
    outcome_rng: fastrand::Rng,
    tokens: HashMap<String, Instant>,
    executions: HashMap<String, Execution>,
    faults: Vec<FaultRule>,
    random: Option<RandomFaults>,
    served: Vec<(Operation, Fault)>,
}

pub(crate) struct State {
    pub config: FakeConfig,
    counters: [AtomicU64; Operation::ALL.len()],
    unauthorized: [AtomicU64; Operation::ALL.len()],
    ids: AtomicU64,
    mutable: Mutex<Mutable>,
}

impl State {
    pub fn new(config: FakeConfig) -> Self {
        Self {
            mutable: Mutex::new(Mutable {
                completion: config.completion.clone(),
                outcome: config.outcome,
                rows: config.rows,
                tokens: HashMap::new(),
                executions: HashMap::new(),
                faults: Vec::new(),
                failed_rate: 0.0,
                outcome_rng: fastrand::Rng::with_seed(ids::mix(config.seed)),
                random: None,
                served: Vec::new(),
            }),
            config,
            counters: Default::default(),
            unauthorized: Default::default(),
            ids: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mutable> {
        self.mutable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request and returns the fault it gets, if any.
    pub fn arrive(&self, operation: Operation) -> Option<Fault> {
        let n = self.counters[operation.index()].fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = self.lock();
        let ruled = state
            .faults
            .iter()
            .rev()
            .find(|r| r.operation == operation && r.nth.is_none_or(|k| k == n))
            .map(|r| r.fault.clone());
        let fault = ruled.or_else(|| {
            let random = state.random.as_mut()?;
            if !random.operations.contains(&operation) || random.rng.f64() >= random.rate {
                return None;
            }
            let pick = random.rng.usize(..random.kinds.len());
            Some(random.kinds[pick].clone())
        });
        if let Some(fault) = &fault {
            state.served.push((operation, fault.clone()));
        }
        fault
    }

    pub fn fault_randomly(
        &self,
        rate: f64,
        seed: u64,
        operations: &[Operation],
        kinds: Vec<Fault>,
    ) {
        self.lock().random = (!kinds.is_empty()).then(|| RandomFaults {
            rate,
            operations: operations.to_vec(),
            kinds,
            rng: fastrand::Rng::with_seed(seed),
        });
    }

    pub fn faults_served(&self) -> Vec<(Operation, Fault)> {
        self.lock().served.clone()
    }

    pub fn set_failed_rate(&self, rate: f64) {
        self.lock().failed_rate = rate;
    }

    pub fn execution(&self, id: &str) -> Option<Execution> {
        self.lock().executions.get(id).cloned()
    }

    pub fn count_unauthorized(&self, operation: Operation) {
        self.unauthorized[operation.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub fn unauthorized(&self, operation: Operation) -> u64 {
        self.unauthorized[operation.index()].load(Ordering::SeqCst)
    }

    pub fn requests(&self, operation: Operation) -> u64 {
        self.counters[operation.index()].load(Ordering::SeqCst)
    }

    pub fn add_fault(&self, operation: Operation, nth: Option<u64>, fault: Fault) {
        self.lock().faults.push(FaultRule {
            operation,
            nth,
            fault,
        });
    }

    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.faults.clear();
        state.random = None;
    }

    pub fn next_id(&self) -> String {
        ids::uuid(self.config.seed, self.ids.fetch_add(1, Ordering::SeqCst))
    }

    pub fn issue_token(&self) -> String {
        let token = format!("fake-token-{}", self.next_id());
        let expires = Instant::now() + self.config.token_lifetime;
        self.lock().tokens.insert(token.clone(), expires);
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.lock()
            .tokens
            .get(token)
            .is_some_and(|&expires| Instant::now() < expires)
    }

    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for expires in self.lock().tokens.values_mut() {
            *expires = now;
        }
    }

    pub fn set_completion(&self, completion: Completion, outcome: Outcome) {
        let mut state = self.lock();
        state.completion = completion;
        state.outcome = outcome;
    }

    pub fn set_rows(&self, rows: usize) {
        self.lock().rows = rows;
    }

    pub fn executions(&self) -> usize {
        self.lock().executions.len()
    }

    /// How many series the org's traffic has.
    pub(crate) fn series(&self) -> usize {
        self.lock().rows
    }

    /// Records a submitted query and returns its id. Its rows are cut now, from the org's
    /// data as it stands (`rows` series), as the service's answer reflects the data of the
    /// moment it ran.
    pub fn submit(&self, owner: Owner, kind: Kind, cut: &Cut, metrics: Vec<String>) -> String {
        self.submit_capped(owner, kind, cut, metrics, usize::MAX)
    }

    /// [`State::submit`], keeping at most `cap` rows.
    pub fn submit_capped(
        &self,
        owner: Owner,
        kind: Kind,
        cut: &Cut,
        metrics: Vec<String>,
        cap: usize,
    ) -> String {
        let series = self.lock().rows;
        let mut rows = cut.rows(self.config.seed, series);
        rows.truncate(cap);
        let rows = Arc::new(rows);
        let id = self.next_id();
        let mut state = self.lock();
        let failed_rate = state.failed_rate;
        let outcome = if failed_rate > 0.0 && state.outcome_rng.f64() < failed_rate {
            Outcome::Failed
        } else {
            state.outcome
        };
        let execution = Execution {
            owner,
            submitted: Instant::now(),
            polls: 0,
            completion: state.completion.clone(),
            outcome,
            seed: ids::mix(self.config.seed ^ ids::mix(self.ids.load(Ordering::SeqCst))),
            kind,
            metrics,
            rows,
        };
        state.executions.insert(id.clone(), execution);
        id
    }

    /// Counts a poll of `id` by `owner` and returns the execution as it then stands.
    pub fn poll(&self, id: &str, owner: &Owner, kind: Kind) -> Option<(Execution, bool)> {
        let mut state = self.lock();
        let execution = state
            .executions
            .get_mut(id)
            .filter(|e| e.owner == *owner && e.kind == kind)?;
        execution.polls += 1;
        let done = match &execution.completion {
            Completion::AfterPolls(n) => execution.polls > *n,
            Completion::AfterTime(d) => execution.submitted.elapsed() >= *d,
            Completion::When(ready) => ready(),
        };
        Some((execution.clone(), done))
    }
}
