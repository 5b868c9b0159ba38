//! `events`: the org's operational events (a limit nearly reached, ...), streamed page by
//! page as `jobs` streams rows, each with its definition's name.

use std::collections::HashMap;

use futures_util::StreamExt as _;

use crate::cli::EventsArgs;
use crate::cli::resolve;
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::render::limits::NamedEvent;
use crate::render::output::Sink;
use crate::session::Session;
use crate::source::api::Api;

pub const DECLARED: Declared = writes(DATA);

pub struct Plan {
    interval: String,
}

pub fn plan(args: EventsArgs) -> Result<Plan, Failure> {
    let interval = resolve::instants(&args.window)?;
    // Checked as the request will be, before anything is sent.
    usage_ext::models::Interval::parse(&interval)
        .map_err(|e| Failure::Usage(format!("--interval: {e}")))?;
    Ok(Plan { interval })
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let queries = api.queries();
    let names: HashMap<String, String> = api.event_definition_names().await.unwrap_or_else(|why| {
        session.progress.note(&format!("events: {why}"));
        HashMap::new()
    });
    let mut sink = Sink::<NamedEvent>::new(session.format, session.csv, session.out()?)
        .map_err(Failure::output)?;
    let mut events = std::pin::pin!(queries.operational_events(&plan.interval)?);
    while let Some(event) = events.next().await {
        let event = event?;
        let name = event
            .event_definition
            .as_ref()
            .and_then(|d| d.id.as_ref())
            .and_then(|id| names.get(id))
            .cloned();
        sink.row(&NamedEvent {
            event,
            event_definition_name: name,
        })
        .map_err(Failure::output)?;
        session
            .progress
            .status(&format!("paging · {} events", sink.count()));
    }
    api.done();
    sink.finish().map_err(Failure::output)
}
