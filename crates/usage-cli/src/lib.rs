#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// The layers, top down: the command line and its commands, then what they render, the
// analysis, where rows come from, and the dataset on disk; each imports only from below.
mod analysis;
pub mod cli;
mod commands;
mod config;
mod exit;
mod lake;
mod progress;
mod render;
mod session;
mod signals;
mod source;

use std::io::BufRead;
use std::sync::{Arc, Mutex};

use crate::cli::{Cli, Command};
pub use crate::exit::{Failure, code};
pub use crate::session::demo_config;
use crate::session::{Pending, Session};
use crate::source::dataset::History;

/// Runs the command line; returns the process's exit code. `vars` is the environment,
/// `stdin` where `--client-secret-stdin` reads from.
pub async fn run(cli: Cli, vars: Vec<(String, String)>, stdin: impl BufRead) -> u8 {
    let pending: Pending = Arc::new(Mutex::new(None));
    // A sync and an exporter stop on a signal themselves (a sync gives its target's lock
    // back first; an exporter ends 0 on SIGTERM): a second handler here would race theirs.
    let own_signals = matches!(cli.command, Command::Sync(_) | Command::Serve(_));
    let result = if own_signals {
        run_command(cli, vars, stdin, pending.clone()).await
    } else {
        tokio::select! {
            result = run_command(cli, vars, stdin, pending.clone()) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted {
                resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            }),
        }
    };
    match result {
        Ok(()) => 0,
        // The session knows the whole resume command (a client query needs --client).
        Err(Failure::TimedOut { error, .. }) => Failure::TimedOut {
            error,
            resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
        .report(),
        Err(failure) => failure.report(),
    }
}

async fn run_command(
    cli: Cli,
    vars: Vec<(String, String)>,
    stdin: impl BufRead,
    pending: Pending,
) -> Result<(), Failure> {
    session::check_output(cli.global.output.as_deref())?;
    match (session::format(&cli.global), &cli.command) {
        (cli::Format::Html, Command::Report(_) | Command::Allowance(_)) => {}
        (cli::Format::Html, _) => {
            return Err(Failure::Usage(
                "--format html is for `report` and `allowance`; give csv, json or ndjson".into(),
            ));
        }
        (cli::Format::Openmetrics, Command::Jobs(args))
            if args.granularity.as_deref() == Some("Day") || args.from.is_some() => {}
        (cli::Format::Openmetrics, _) => {
            return Err(Failure::Usage(
                "--format openmetrics is for `jobs --granularity Day` (Prometheus's backfill)"
                    .into(),
            ));
        }
        _ => {}
    }
    match &cli.command {
        Command::Completions { shell } => return commands::completions(*shell),
        Command::Man => return commands::man(),
        _ => {}
    }
    if let Command::Regions = cli.command {
        return commands::regions(session::format(&cli.global), cli.global.output.as_deref());
    }
    let from = match &cli.command {
        Command::Report(args) => args.from.as_deref(),
        Command::Check(args) => args.from.as_deref(),
        Command::Serve(args) => args.from.as_deref(),
        Command::Jobs(args) => args.from.as_deref(),
        Command::Allowance(args) => args.from.as_deref(),
        _ => None,
    };
    if cli.global.profile.len() > 1 {
        return serve_profiles(cli, vars, pending).await;
    }
    if let Command::Sync(args) = &cli.command {
        // Its flags and its target are checked before the client exists.
        let plan = commands::sync::plan(args, &vars)?;
        let session = Session::connect(&cli.global, &vars, stdin, pending).await?;
        return commands::sync::exec(&session, plan).await;
    }
    // Bad rules and licenses are refused before a dataset is opened or a client exists.
    let prepared = commands::prepare(&cli.command)?;
    if let Some(from) = from {
        // The dataset is opened and its state checked before anything else is read.
        let history = History::open(from, &vars).await?;
        let session = Session::offline(&cli.global, &vars, history, pending)?;
        session.progress.detail(&format!(
            "--from {from}: reading the synced dataset; no request goes to the Usage API"
        ));
        let result = commands::exec(&session, cli.command, prepared).await;
        session.progress.detail(&format!(
            "--from: {} requests to the Usage API",
            session.queries.client().requests_sent()
        ));
        return result;
    }
    let session = Session::connect(&cli.global, &vars, stdin, pending).await?;
    commands::exec(&session, cli.command, prepared).await
}

/// `serve --profile a --profile b`: one session per org, each from its profile alone.
async fn serve_profiles(
    cli: Cli,
    vars: Vec<(String, String)>,
    pending: Pending,
) -> Result<(), Failure> {
    let Command::Serve(args) = &cli.command else {
        return Err(Failure::Usage(
            "--profile is given more than once: only `serve` serves several orgs".into(),
        ));
    };
    // Each org's credentials come from its own profile: one from a flag or the environment
    // would be every org's.
    let shared: Vec<&str> = [
        (cli.global.client_id.is_some(), "--client-id"),
        (cli.global.client_secret_stdin, "--client-secret-stdin"),
        (cli.global.demo, "--demo"),
        (args.from.is_some(), "--from"),
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
    for name in &cli.global.profile {
        if names.contains(&name) {
            return Err(Failure::Usage(format!("--profile {name} is given twice")));
        }
        names.push(name);
    }
    let plan = commands::serve::plan(args)?;
    let mut sessions = Vec::new();
    for name in &cli.global.profile {
        let mut global = cli.global.clone();
        global.profile = vec![name.clone()];
        let session = Session::connect(&global, &vars, std::io::empty(), pending.clone()).await?;
        sessions.push((Some(name.clone()), session));
    }
    let orgs: Vec<(Option<String>, &Session)> =
        sessions.iter().map(|(p, s)| (p.clone(), s)).collect();
    commands::serve::exec_orgs(&orgs, args, plan.as_ref()).await
}
