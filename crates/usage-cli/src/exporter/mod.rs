//! The exporter `serve` runs: the org's usage as Prometheus metrics on `/metrics` (and
//! `/healthz`), each org refreshed on its own schedule ([`refresh`]), never on a scrape; a
//! scrape renders one refresh of each org, never half of two. A layer of its own beside
//! `render/` (which writes the exposition), so that a live view can share it.

mod refresh;

use futures_util::FutureExt as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::analysis::billing::Allocation;
use crate::analysis::live::LiveEvents;
use crate::analysis::usage::Usage;
use crate::exit::Failure;
use crate::progress::Progress;
use crate::render::metrics::{Exposition, Health, Scraped};
use crate::signals::{Signal, Signals};
use crate::source::Source;

/// What the exporter serves and how often it refreshes, resolved from the flags.
pub struct Settings {
    pub listen: SocketAddr,
    pub refresh: Duration,
    /// How often the live counter polls the operational events; none: no live counter.
    pub events_every: Option<Duration>,
    /// The live counter's alerts (`--notify`), each org's kept in its own file.
    pub alerts: Option<crate::live::alerts::Settings>,
    pub top_endpoints: usize,
    /// The billing period's gauges, when an allocation is given.
    pub allocation: Option<Allocation>,
    pub billing_day: u32,
    pub exclude: Vec<String>,
}

/// What a scrape reads: the last good data and the exporter's health, replaced whole.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub(crate) usage: Arc<Usage>,
    pub(crate) health: Health,
}

/// One org the exporter serves: its profile (a label on its series when several are
/// served) and its own last good data.
pub(crate) struct Org {
    pub(crate) profile: Option<String>,
    pub(crate) snapshot: Arc<Mutex<Snapshot>>,
    /// The live feed's counts, apart from the refreshes' snapshot (it moves every minute).
    pub(crate) live: Arc<Mutex<LiveEvents>>,
}

#[derive(Clone)]
struct Shared {
    orgs: Arc<Vec<Org>>,
}

async fn metrics(State(shared): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let format = Exposition::for_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // Each org's refresh whole, read under its own lock.
    let taken: Vec<(Arc<Usage>, Health, LiveEvents)> = shared
        .orgs
        .iter()
        .map(|org| {
            let snapshot = org.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            let live = org.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
            (snapshot.usage.clone(), snapshot.health, live)
        })
        .collect();
    let scraped: Vec<Scraped<'_>> = shared
        .orgs
        .iter()
        .zip(&taken)
        .map(|(org, (usage, health, live))| Scraped {
            profile: org.profile.as_deref(),
            usage,
            health: *health,
            live,
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

/// Serves `sources` (each with the profile that labels its series when there are several),
/// each refreshed on its own: one org's failure keeps the others' values, and its own last
/// good ones. Until SIGTERM (a clean end) or Ctrl-C (an interruption).
pub async fn serve(
    progress: &Arc<Progress>,
    sources: &[(Option<String>, &Source)],
    plan: &Settings,
) -> Result<(), Failure> {
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
                live: Arc::default(),
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
            .map(|((_, source), org)| refresh::refresh_forever(source, progress, plan, org)),
    );
    let live = futures_util::future::join_all(sources.iter().zip(orgs.iter()).filter_map(
        |((_, source), org)| {
            let every = plan.events_every?;
            Some(refresh::poll_events_forever(
                source, progress, every, plan, org,
            ))
        },
    ));
    let refreshes = futures_util::future::join(refreshes, live);
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
