//! One module per command (cargo's `commands/` layout): each takes the session and its
//! own arguments.

pub mod allowance;
pub mod check;
mod client;
mod docs;
mod jobs;
mod query;
mod regions;
mod report;
mod resume;
pub mod serve;
pub mod sync;

pub use docs::{completions, man};
pub use regions::regions;

use crate::cli::Command;
use crate::exit::Failure;
use crate::session::Session;

/// What a command's flags resolve to before anything is opened or sent (ripgrep's
/// `LowArgs` -> `HiArgs`): bad rules or licenses are refused here, exit 2, before a
/// dataset is read or a token is asked for.
pub enum Prepared {
    Check(check::Checks),
    Allowance(allowance::Plan),
    /// The exporter's allocation, when it is given one.
    Serve(Option<allowance::Plan>),
    Plain,
}

/// Resolves what `command` needs resolved first.
pub fn prepare(command: &Command) -> Result<Prepared, Failure> {
    Ok(match command {
        Command::Check(args) => Prepared::Check(check::rules(args)?),
        Command::Allowance(args) => Prepared::Allowance(allowance::plan(args)?),
        Command::Serve(args) => Prepared::Serve(serve::plan(args)?),
        _ => Prepared::Plain,
    })
}

/// Runs a command that talks to the API (or reads a dataset instead).
pub async fn exec(session: &Session, command: Command, prepared: Prepared) -> Result<(), Failure> {
    match (command, prepared) {
        (Command::Check(args), Prepared::Check(checks)) => {
            check::exec(session, &args, &checks).await
        }
        (Command::Allowance(args), Prepared::Allowance(plan)) => {
            allowance::exec(session, &args, &plan).await
        }
        (Command::Serve(args), Prepared::Serve(plan)) => {
            serve::exec(session, &args, plan.as_ref()).await
        }
        (Command::Report(args), _) => report::exec(session, &args).await,
        (Command::Query(args), _) => query::exec(session, &args).await,
        (
            Command::Client {
                client: client_id,
                what,
            },
            _,
        ) => client::exec(session, &client_id, what).await,
        (Command::Jobs(args), _) => jobs::exec(session, &args).await,
        (Command::Resume { id, client }, _) => resume::exec(session, &id, client.as_deref()).await,
        // Answered before any session is built.
        (Command::Regions | Command::Completions { .. } | Command::Man, _) => Ok(()),
        // Planned with its target before its session is built.
        (Command::Sync(_), _) => Ok(()),
        (Command::Check(_) | Command::Allowance(_) | Command::Serve(_), _) => Err(Failure::Usage(
            "the command's flags were not prepared before it ran".into(),
        )),
    }
}
