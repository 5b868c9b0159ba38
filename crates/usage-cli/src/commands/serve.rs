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

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use usage_ext::DayWindow;

use crate::cli::resolve;
use crate::cli::{PeriodArg, ServeArgs};
use crate::commands::allowance::{self, Ask, Plan};
use crate::exit::Failure;
use crate::progress::Progress;
use crate::render::metrics::{Exposition, Health, Scraped, Usage};
use crate::session::Session;
use crate::signals::{Signal, Signals};
use crate::source::dataset::{Column, History};

/// What a scrape reads: the last good data and the exporter's health, replaced whole.
#[derive(Default)]
struct Snapshot {
    usage: Arc<Usage>,
    health: Health,
}

/// One org the exporter serves: its profile (a label on its series when several are
/// served), its own last good data and the client its refreshes use.
struct Org {
    profile: Option<String>,
    snapshot: Arc<Mutex<Snapshot>>,
    client: usage_ext::Client,
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
            let mut health = snapshot.health;
            health.api_requests = org.client.requests_sent();
            (snapshot.usage.clone(), health)
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

/// The allocation of `--licenses` or `--allocation`, when one is given; exit 2 on a bad one.
pub fn plan(args: &ServeArgs) -> Result<Option<Plan>, Failure> {
    if !args.allocation.given() {
        return Ok(None);
    }
    allowance::plan_from(&args.allocation).map(Some)
}

/// One refresh: the usage gauges, and the billing period's when an allocation is given,
/// both or neither (a failure keeps the last good values of all).
async fn refresh(
    session: &Session,
    args: &ServeArgs,
    plan: Option<&Plan>,
) -> Result<Usage, Failure> {
    let mut usage = refresh_usage(session, args.top_endpoints).await?;
    if let Some(plan) = plan {
        let ask = Ask {
            billing_day: args.allocation.billing_day,
            period: PeriodArg::Current,
            as_of: None,
            exclude: args.exclude.clone(),
            concurrency: 1,
        };
        usage.allocation = Some(allowance::compute(session, &ask, plan).await?);
    }
    Ok(usage)
}

/// The last 7 complete days as one daily job, summed into the gauges; with `--from`, the
/// dataset's last 7 days, read again at every refresh (a sync from cron moves them on).
async fn refresh_usage(session: &Session, top: usize) -> Result<Usage, Failure> {
    if let Some(history) = &session.history {
        return refresh_from(session, history, top).await;
    }
    let today = resolve::today();
    let last = resolve::days_before(today, 1, "refresh")?;
    let first = resolve::days_before(today, 7, "refresh")?;
    let request = resolve::job_request(json!({
        "interval": format!("{first}/{last}"),
        "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"],
        "metrics": ["Requests", "Status429", "Status500"],
        "granularity": "Day",
    }))?;
    let rows = session
        .queries
        .aggregate_usage(&request)
        .await?
        .collect()
        .await?;
    for row in &rows {
        crate::source::counts::check_job_row(row)?;
    }
    Ok(Usage::from_rows(&rows, last, top))
}

/// A refresh from the dataset: the 7 days up to its last complete day (fewer when it holds
/// fewer), as the API's refresh sums them.
async fn refresh_from(session: &Session, history: &History, top: usize) -> Result<Usage, Failure> {
    // The state is read again: a sync may have moved the last complete day since.
    let history = History::reopen(history).await?;
    let held = history.held();
    let last = held.last();
    let first = last
        .checked_sub_days(chrono::Days::new(6))
        .map_or(held.first(), |d| d.max(held.first()));
    let days = DayWindow::new(first, last).unwrap_or(held);
    let columns = [
        Column::OauthClientId,
        Column::OauthClientName,
        Column::HttpMethod,
        Column::TemplateUri,
        Column::RequestCount,
        Column::Status429,
        Column::Status500,
    ];
    let mut rows = Vec::new();
    let missing = history
        .rows(days, &columns, |row| {
            rows.push(row.to_model());
            Ok(())
        })
        .await?;
    crate::commands::report::note_missing(session, &missing);
    Ok(Usage::from_rows(&rows, last, top))
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

async fn refresh_forever(
    session: &Session,
    args: &ServeArgs,
    plan: Option<&Plan>,
    org: &Org,
    progress: Arc<Progress>,
) {
    let whose = org
        .profile
        .as_ref()
        .map(|p| format!(" of profile {p}"))
        .unwrap_or_default();
    loop {
        let result = refresh(session, args, plan).await;
        {
            let mut s = org.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            s.health.refreshes += 1;
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
        tokio::time::sleep(jittered(args.refresh)).await;
    }
}

pub async fn exec(session: &Session, args: &ServeArgs, plan: Option<&Plan>) -> Result<(), Failure> {
    exec_orgs(&[(None, session)], args, plan).await
}

/// One exporter for several orgs (`--profile a --profile b`), each refreshed on its own:
/// one org's failure keeps the others' values, and its own last good ones.
pub async fn exec_orgs(
    sessions: &[(Option<String>, &Session)],
    args: &ServeArgs,
    plan: Option<&Plan>,
) -> Result<(), Failure> {
    let Some((_, first)) = sessions.first() else {
        return Err(Failure::Usage("serve: no org to serve".into()));
    };
    // Caught from before the address is announced: a signal sent on that word is ours.
    let signals = Signals::listen();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Usage(format!("--listen {}: {e}", args.listen)))?;
    let address: SocketAddr = listener
        .local_addr()
        .map_err(|e| Failure::Usage(format!("--listen {}: {e}", args.listen)))?;
    let orgs: Arc<Vec<Org>> = Arc::new(
        sessions
            .iter()
            .map(|(profile, session)| Org {
                profile: profile.clone(),
                snapshot: Arc::new(Mutex::new(Snapshot::default())),
                client: session.queries.client().clone(),
            })
            .collect(),
    );
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Shared { orgs: orgs.clone() });
    let profiles: Vec<&str> = sessions.iter().filter_map(|(p, _)| p.as_deref()).collect();
    first.progress.note(&format!(
        "serve: http://{address}/metrics (refreshing every {} s, give or take a tenth){}",
        args.refresh.as_secs(),
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
    let refreshes = futures_util::future::join_all(sessions.iter().zip(orgs.iter()).map(
        |((_, session), org)| refresh_forever(session, args, plan, org, first.progress.clone()),
    ));
    tokio::select! {
        served = server => served.map_err(|e| Failure::Usage(format!("--listen {address}: {e}")))?,
        _ = refreshes => {}
        () = deadline => {}
    }
    first.progress.note("serve: stopped");
    // SIGTERM is how a service manager stops an exporter: a clean end. Ctrl-C is an
    // interruption, as for every command.
    match signal.peek() {
        Some(Signal::Interrupt) => Err(Failure::Interrupted { resume: None }),
        Some(Signal::Terminate) | None => Ok(()),
    }
}
