//! `serve`: the org's usage as Prometheus metrics on `/metrics` (and `/healthz`), for the
//! teams that watch every other rate limit in Prometheus and Grafana.
//!
//! The data is daily and a day late, so the exporter refreshes on its own schedule
//! (`--refresh`, jittered), never on a scrape: a thousand scrapes cost the Usage API
//! nothing. A refresh replaces the data whole; a scrape renders one refresh, never half of
//! two. A failed refresh keeps the last good values (their age is in
//! `genesys_usage_data_day_timestamp_seconds` and the last success's timestamp), counts the
//! error and says why on stderr. SIGTERM and Ctrl-C stop it at once.

use futures_util::FutureExt as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use usage_ext::DayWindow;

use crate::analysis::allowance::PeriodArg;
use crate::analysis::billing::{self, Allocation, PeriodAsk};
use crate::analysis::usage::{self, OrgLimitValue, Usage};
use crate::cli::resolve;
use crate::cli::{Global, ServeArgs};
use crate::commands::declared::{DATA, Declared};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::progress::Progress;
use crate::render::metrics::{Exposition, Health, Scraped};
use crate::session::Session;
use crate::signals::{Signal, Signals};
use crate::source::api::Api;
use crate::source::row::Ask;
use crate::source::{Source, Unavailable};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// It stops on SIGTERM (0) and Ctrl-C (130) itself, and serves several orgs.
pub const DECLARED: Declared = Declared {
    formats: DATA,
    own_signals: true,
    several_orgs: true,
};

/// What a scrape reads: the last good data and the exporter's health, replaced whole.
#[derive(Default)]
struct Snapshot {
    usage: Arc<Usage>,
    health: Health,
}

/// One org the exporter serves: its profile (a label on its series when several are
/// served) and its own last good data.
struct Org {
    profile: Option<String>,
    snapshot: Arc<Mutex<Snapshot>>,
}

#[derive(Clone)]
struct Shared {
    orgs: Arc<Vec<Org>>,
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn metrics(State(shared): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let format = Exposition::for_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // Each org's refresh whole, read under its own lock.
    let taken: Vec<(Arc<Usage>, Health)> = shared
        .orgs
        .iter()
        .map(|org| {
            let snapshot = org.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            (snapshot.usage.clone(), snapshot.health)
        })
        .collect();
    let scraped: Vec<Scraped<'_>> = shared
        .orgs
        .iter()
        .zip(&taken)
        .map(|(org, (usage, health))| Scraped {
            profile: org.profile.as_deref(),
            usage,
            health: *health,
        })
        .collect();
    (
        [(header::CONTENT_TYPE, format.content_type())],
        crate::render::metrics::render(&scraped, format),
    )
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// The exporter, resolved from its flags before anything is sent: a bad license exits 2.
pub struct Plan {
    pub from: Option<String>,
    listen: SocketAddr,
    refresh: Duration,
    top_endpoints: usize,
    /// The billing period's gauges, when an allocation is given.
    allocation: Option<Allocation>,
    billing_day: u32,
    exclude: Vec<String>,
}

pub fn plan(args: ServeArgs) -> Result<Plan, Failure> {
    let allocation = match args.allocation.given() {
        true => Some(resolve::allocation(&args.allocation)?),
        false => None,
    };
    Ok(Plan {
        from: args.dataset.from,
        listen: args.listen,
        refresh: args.refresh,
        top_endpoints: args.top_endpoints,
        allocation,
        billing_day: args.allocation.billing_day,
        exclude: args.exclude.exclude,
    })
}

/// One refresh: the usage gauges, and the billing period's when an allocation is given,
/// both or neither (a failure keeps the last good values of all).
async fn refresh(source: &Source, progress: &Progress, plan: &Plan) -> Result<Usage, Failure> {
    // A dataset's state is read again: a sync from cron may have moved its days on.
    let reopened = source.reopened().await?;
    let source = reopened.as_ref().unwrap_or(source);
    let mut usage = refresh_usage(source, plan.top_endpoints).await?;
    refresh_limits(source, progress, &mut usage).await;
    if let Some(allocation) = &plan.allocation {
        let ask = PeriodAsk {
            billing_day: plan.billing_day,
            period: PeriodArg::Current,
            as_of: None,
            exclude: plan.exclude.clone(),
            concurrency: 1,
        };
        usage.allocation = Some(billing::compute(source, progress, &ask, allocation).await?);
    }
    Ok(usage)
}

/// The last 7 complete days, daily, summed into the gauges: one daily job, or the
/// dataset's last 7 days (fewer when it holds fewer).
async fn refresh_usage(source: &Source, top: usize) -> Result<Usage, Failure> {
    let days = source.recent_days(7)?;
    let asks = [Ask {
        days,
        columns: vec![
            Column::OauthClientId,
            Column::OauthClientName,
            Column::TemplateUri,
            Column::HttpMethod,
            Column::RequestCount,
            Column::Status429,
            Column::Status500,
        ],
        daily: true,
        needs: Vec::new(),
        purpose: "the exporter's gauges",
    }];
    let mut rows = Vec::new();
    source
        .rows(&asks, 1, |_, row| {
            rows.push(row.to_model());
            Ok(())
        })
        .await?;
    Ok(Usage::from_rows(&rows, days.last(), top))
}

/// The last complete day's near-limit records (one request) and the org's `platform.api`
/// limits (three): gauges beside the usage. What cannot be read is said and left out; the
/// usage gauges stand without them.
async fn refresh_limits(source: &Source, progress: &Progress, usage: &mut Usage) {
    let Some(last_day) = usage.last_day else {
        return;
    };
    let Some(day) = DayWindow::new(last_day, last_day) else {
        return;
    };
    match source.rate_limit_records(day).await {
        Ok(records) => {
            usage.set_near_limits(&records);
            usage.families_up.insert(usage::RATE_LIMIT_AGGREGATES, true);
        }
        Err(why) => family_down(progress, usage, usage::RATE_LIMIT_AGGREGATES, &why),
    }
    const NAMESPACE: &str = "platform.api";
    match source.organization_limits(NAMESPACE).await {
        Ok(limits) => {
            usage.families_up.insert(usage::ORGANIZATION_LIMITS, true);
            usage.org_limits = limits
                .into_iter()
                .map(|l| OrgLimitValue {
                    key: l.key,
                    namespace: NAMESPACE.into(),
                    value: l.value,
                    default: l.default,
                })
                .collect();
        }
        Err(why) => family_down(progress, usage, usage::ORGANIZATION_LIMITS, &why),
    }
}

/// A family left out: said, and down for the alert when it was asked for and could not be
/// read. One the source keeps none of (a dataset's org limits) has no gauge: nothing failed.
fn family_down(progress: &Progress, usage: &mut Usage, family: &'static str, why: &Unavailable) {
    if let Unavailable::Unread(_) = why {
        progress.note(&format!("serve: {why}"));
        usage.families_up.insert(family, false);
    }
}

/// `every`, give or take a tenth, so that exporters started together do not refresh
/// together.
fn jittered(every: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let permille = f64::from(nanos % 201) - 100.0; // -100 ..= 100
    every.mul_f64(1.0 + permille / 1000.0)
}

async fn refresh_forever(source: &Source, progress: &Progress, plan: &Plan, org: &Org) {
    let whose = org
        .profile
        .as_ref()
        .map(|p| format!(" of profile {p}"))
        .unwrap_or_default();
    loop {
        let result = refresh(source, progress, plan).await;
        {
            let mut s = org.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            s.health.refreshes += 1;
            // Counted when a refresh ends: a dataset sends none.
            s.health.api_requests = source.requests_sent();
            match result {
                Ok(usage) => {
                    s.usage = Arc::new(usage);
                    s.health.last_success = Some(now_seconds());
                }
                Err(e) => {
                    s.health.refresh_errors += 1;
                    let kept = s
                        .usage
                        .last_day
                        .map_or("no data yet".to_string(), |d| format!("the values of {d}"));
                    progress.note(&format!(
                        "serve: refresh{whose} failed ({e}); serving {kept}"
                    ));
                }
            }
        }
        tokio::time::sleep(jittered(plan.refresh)).await;
    }
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    exec_orgs(session, &[(None, source)], plan).await
}

/// `serve --profile a --profile b`: one source per org, each from its profile alone.
pub async fn exec_profiles(
    session: &Session,
    global: &Global,
    vars: &[(String, String)],
    plan: &Plan,
) -> Result<(), Failure> {
    // Each org's credentials come from its own profile: one from a flag or the environment
    // would be every org's.
    let shared: Vec<&str> = [
        (global.client_id.is_some(), "--client-id"),
        (global.client_secret_stdin, "--client-secret-stdin"),
        (global.demo, "--demo"),
        (plan.from.is_some(), "--from"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .chain(
        [
            "GENESYSCLOUD_OAUTHCLIENT_ID",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
            "GENESYSCLOUD_ACCESS_TOKEN",
        ]
        .into_iter()
        .filter(|name| vars.iter().any(|(k, v)| k == name && !v.trim().is_empty())),
    )
    .collect();
    if !shared.is_empty() {
        return Err(Failure::Usage(format!(
            "serve with several --profile takes each org's credentials from its profile; {} would be every org's: leave {} out",
            shared.join(", "),
            if shared.len() == 1 { "it" } else { "them" }
        )));
    }
    let mut names: Vec<&String> = Vec::new();
    for name in &global.profile {
        if names.contains(&name) {
            return Err(Failure::Usage(format!("--profile {name} is given twice")));
        }
        names.push(name);
    }
    let mut sources = Vec::new();
    for name in &global.profile {
        let mut login = global.login();
        login.profile = Some(name.clone());
        let api = Api::connect(
            &login,
            vars,
            std::io::empty(),
            session.progress.clone(),
            session.pending.clone(),
        )
        .await?;
        sources.push((Some(name.clone()), Source::Api(api)));
    }
    let orgs: Vec<(Option<String>, &Source)> =
        sources.iter().map(|(p, s)| (p.clone(), s)).collect();
    exec_orgs(session, &orgs, plan).await
}

/// One exporter for several orgs (`--profile a --profile b`), each refreshed on its own:
/// one org's failure keeps the others' values, and its own last good ones.
async fn exec_orgs(
    session: &Session,
    sources: &[(Option<String>, &Source)],
    plan: &Plan,
) -> Result<(), Failure> {
    let progress = &session.progress;
    // Caught from before the address is announced: a signal sent on that word is ours.
    let signals = Signals::listen();
    let listener = tokio::net::TcpListener::bind(plan.listen)
        .await
        .map_err(|e| Failure::Usage(format!("--listen {}: {e}", plan.listen)))?;
    let address: SocketAddr = listener
        .local_addr()
        .map_err(|e| Failure::Usage(format!("--listen {}: {e}", plan.listen)))?;
    let orgs: Arc<Vec<Org>> = Arc::new(
        sources
            .iter()
            .map(|(profile, _)| Org {
                profile: profile.clone(),
                snapshot: Arc::new(Mutex::new(Snapshot::default())),
            })
            .collect(),
    );
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Shared { orgs: orgs.clone() });
    let profiles: Vec<&str> = sources.iter().filter_map(|(p, _)| p.as_deref()).collect();
    progress.note(&format!(
        "serve: http://{address}/metrics (refreshing every {} s, give or take a tenth){}",
        plan.refresh.as_secs(),
        if profiles.is_empty() {
            String::new()
        } else {
            format!("; profiles {}", profiles.join(", "))
        }
    ));
    // One listener decides: the server's shutdown, the deadline and the exit code all
    // follow the same signal.
    let signal = signals.stopped().shared();
    let server = axum::serve(listener, app).with_graceful_shutdown(signal.clone().map(drop));
    // Open scrapes get a moment to finish; a client that holds on is not waited for.
    let deadline = {
        let signal = signal.clone();
        async move {
            signal.await;
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
    };
    let refreshes = futures_util::future::join_all(
        sources
            .iter()
            .zip(orgs.iter())
            .map(|((_, source), org)| refresh_forever(source, progress, plan, org)),
    );
    tokio::select! {
        served = server => served.map_err(|e| Failure::Usage(format!("--listen {address}: {e}")))?,
        _ = refreshes => {}
        () = deadline => {}
    }
    progress.note("serve: stopped");
    // SIGTERM is how a service manager stops an exporter: a clean end. Ctrl-C is an
    // interruption, as for every command.
    match signal.peek() {
        Some(Signal::Interrupt) => Err(Failure::Interrupted { resume: None }),
        Some(Signal::Terminate) | None => Ok(()),
    }
}
