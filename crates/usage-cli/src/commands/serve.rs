//! `serve`: the org's usage as Prometheus metrics on `/metrics` (and `/healthz`), for the
//! teams that watch every other rate limit in Prometheus and Grafana.
//!
//! The data is daily and a day late, so the exporter refreshes on its own schedule
//! (`--refresh`, jittered), never on a scrape: a thousand scrapes cost the Usage API
//! nothing. A refresh replaces the data whole; a scrape renders one refresh, never half of
//! two. A failed refresh keeps the last good values (their age is in
//! `genesys_usage_data_day_timestamp_seconds` and the last success's timestamp), counts the
//! error and says why on stderr. SIGTERM and Ctrl-C stop it at once.

use crate::cli::resolve;
use crate::cli::{Global, ServeArgs};
use crate::commands::declared::{DATA, Declared};
use crate::exit::Failure;
use crate::exporter::{self, Settings};
use crate::session::Session;
use crate::source::Source;
use crate::source::api::Api;

/// It stops on SIGTERM (0) and Ctrl-C (130) itself, and serves several orgs.
pub const DECLARED: Declared = Declared {
    formats: DATA,
    own_signals: true,
    several_orgs: true,
};

/// The exporter, resolved from its flags before anything is sent: a bad license exits 2.
pub struct Plan {
    pub from: Option<String>,
    settings: Settings,
}

pub fn plan(args: ServeArgs, vars: &[(String, String)]) -> Result<Plan, Failure> {
    let alerts = resolve::live_alerts(&args.alerts, vars, "serve")?;
    if alerts.is_some() && args.no_events {
        return Err(Failure::Usage(
            "--notify: the alerts are the live counter's; --no-events leaves none to send".into(),
        ));
    }
    let allocation = match args.allocation.given() {
        true => Some(resolve::allocation(&args.allocation)?),
        false => None,
    };
    Ok(Plan {
        from: args.dataset.from,
        settings: Settings {
            listen: args.listen,
            refresh: args.refresh,
            events_every: (!args.no_events).then_some(args.events_every),
            alerts,
            top_endpoints: args.top_endpoints,
            allocation,
            billing_day: args.allocation.billing_day,
            exclude: args.exclude.exclude,
        },
    })
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    exporter::serve(&session.progress, &[(None, source)], &plan.settings).await
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
    exporter::serve(&session.progress, &orgs, &plan.settings).await
}
