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
mod serve;
pub mod sync;

pub use docs::{completions, man};
pub use regions::regions;

use crate::cli::Command;
use crate::exit::Failure;
use crate::session::Session;

/// Runs a command that talks to the API.
pub async fn exec(session: &Session, command: Command) -> Result<(), Failure> {
    match command {
        Command::Report(args) => report::exec(session, &args).await,
        Command::Query(args) => query::exec(session, &args).await,
        Command::Client {
            client: client_id,
            what,
        } => client::exec(session, &client_id, what).await,
        Command::Jobs(args) => jobs::exec(session, &args).await,
        Command::Resume { id, client } => resume::exec(session, &id, client.as_deref()).await,
        Command::Serve(args) => serve::exec(session, &args).await,
        // Answered before any session is built.
        Command::Regions | Command::Completions { .. } | Command::Man => Ok(()),
        // Planned before their session is built.
        Command::Sync(_) | Command::Check(_) | Command::Allowance(_) => Ok(()),
    }
}
