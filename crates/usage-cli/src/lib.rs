#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// The layers, top down: the command line and its commands, the exporter and the live feed
// they run, then what they render, the analysis, where rows come from, and the dataset on
// disk, with the alerts' delivery, the settings and the signals at the bottom; each imports
// only from below.
mod analysis;
pub mod cli;
mod commands;
mod config;
mod exit;
mod exporter;
mod lake;
mod live;
mod notify;
mod progress;
mod render;
mod session;
mod signals;
mod source;
mod untrusted;

use std::io::BufRead;
use std::sync::{Arc, Mutex};

use crate::cli::{Cli, Command, Global};
use crate::commands::Plan;
pub use crate::exit::{Failure, code};
use crate::progress::Pending;
pub use crate::source::api::demo_config;

/// Runs the command line; returns the process's exit code. `vars` is the environment,
/// `stdin` where `--client-secret-stdin` reads from.
pub async fn run(cli: Cli, vars: Vec<(String, String)>, stdin: impl BufRead) -> u8 {
    let pending: Pending = Arc::new(Mutex::new(None));
    let Cli { command, global } = cli;
    // The flags are resolved once, before anything is opened or sent.
    let plan = match plan(command, &global, &vars) {
        Ok(plan) => plan,
        Err(failure) => return failure.report(),
    };
    let result = if plan.declared().own_signals {
        // It stops on a signal itself (a sync gives its target's lock back first; an
        // exporter ends 0 on SIGTERM): a second handler here would race its.
        commands::run(plan, &global, &vars, stdin, pending.clone()).await
    } else {
        tokio::select! {
            result = commands::run(plan, &global, &vars, stdin, pending.clone()) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted {
                resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            }),
        }
    };
    match result {
        Ok(()) => 0,
        // The API knows the whole resume command (a client query needs --client).
        Err(Failure::TimedOut { error, .. }) => Failure::TimedOut {
            error,
            resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
        .report(),
        Err(failure) => failure.report(),
    }
}

/// The command line resolved: the output checked, the flags of the command, and the
/// profiles (several only for a command that serves several orgs).
fn plan(command: Command, global: &Global, vars: &[(String, String)]) -> Result<Plan, Failure> {
    session::check_output(global.output.as_deref())?;
    let plan = Plan::of(command, session::format(global), vars)?;
    if global.profile.len() > 1 && !plan.declared().several_orgs {
        return Err(Failure::Usage(
            "--profile is given more than once: only `serve` serves several orgs".into(),
        ));
    }
    Ok(plan)
}
