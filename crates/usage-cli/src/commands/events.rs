//! `events`: the org's operational events (a limit nearly reached, ...), streamed page by
//! page as `jobs` streams rows, each with its definition's name; or, `--from` a dataset,
//! the events `sync` kept (the service keeps days of them, the dataset a year).

use std::collections::HashMap;

use futures_util::StreamExt as _;
use usage_ext::models::Interval;

use crate::cli::EventsArgs;
use crate::cli::resolve;
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::render::limits::NamedEvent;
use crate::render::output::Sink;
use crate::session::Session;
use crate::source::Source;
use crate::source::api::Api;

pub const DECLARED: Declared = writes(DATA);

pub struct Plan {
    interval: String,
    /// The dataset read instead of the API (`--from`).
    pub from: Option<String>,
    parsed: Interval,
}

pub fn plan(args: EventsArgs) -> Result<Plan, Failure> {
    let interval = resolve::instants(&args.window)?;
    // Checked as the request will be, before anything is sent.
    let parsed =
        Interval::parse(&interval).map_err(|e| Failure::Usage(format!("--interval: {e}")))?;
    Ok(Plan {
        interval,
        from: args.dataset.from,
        parsed,
    })
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

/// `events --from DIR`: the events `sync` kept of the interval, oldest first, as the API
/// path writes them; days the dataset does not hold are refused (exit 2) with the days it
/// holds, never answered as quiet ones.
pub async fn exec_from(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    let kept = source
        .operational_events(&plan.parsed, None)
        .await
        .map_err(|why| Failure::Usage(why.to_string()))?;
    let mut sink = Sink::<NamedEvent>::new(session.format, session.csv, session.out()?)
        .map_err(Failure::output)?;
    for k in kept {
        sink.row(&NamedEvent {
            event: k.event,
            event_definition_name: k.event_definition_name,
        })
        .map_err(Failure::output)?;
    }
    sink.finish().map_err(Failure::output)
}
