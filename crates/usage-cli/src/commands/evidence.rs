//! `evidence --client ID`: one OAuth client's case for a support ticket asking for a higher
//! limit (or for its vendor): its usage, the near-limit records, the org's value of the
//! limit, the requests to raise it and the client's operational events, each from the
//! source (the API, or a dataset, which keeps the usage and the records). What cannot be
//! read is said, never a failure: the usage alone is evidence. An id with no usage in the window is not found (exit 7), whatever
//! the letter case of a known one.

use std::collections::HashMap;

use usage_ext::DayWindow;

use crate::analysis::evidence::{Evidence, Fetched, client_usage};
use crate::cli::{EvidenceArgs, Format, Window, resolve};
use crate::commands::declared::{Declared, writes};
use crate::exit::Failure;
use crate::render::evidence;
use crate::session::Session;
use crate::source::api::{day_interval, today};
use crate::source::{Family, Source};

/// A text summary, JSON, and the page.
pub const DECLARED: Declared = writes(&[Format::Table, Format::Json, Format::Html]);

pub struct Plan {
    pub from: Option<String>,
    client: String,
    days: DayWindow,
    concurrency: usize,
}

pub fn plan(args: EvidenceArgs) -> Result<Plan, Failure> {
    // OAuth client ids are UUIDs: anything with other characters is a typo, refused
    // before the usage is looked up.
    let id = args.client.as_str();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Failure::Usage(format!(
            "--client {:?}: not an OAuth client id (a UUID, as `report` lists them)",
            crate::untrusted::terminal(id)
        )));
    }
    let window = Window {
        since: Some(args.since.unwrap_or(30)),
        interval: args.interval,
    };
    Ok(Plan {
        from: args.dataset.from,
        client: args.client,
        days: resolve::job_days(&window)?,
        concurrency: args.jobs.concurrency.get(),
    })
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    source.check_days(plan.days, "--since/--interval")?;
    // The org's own spelling of the id: an id matches whatever its letter case.
    let ((client, name), daily, endpoints) =
        client_usage(source, &plan.client, plan.days, plan.concurrency).await?;
    let records = said(source.rate_limit_records(plan.days).await);
    // The namespace of the limit the client came near the most: a key may stand in two
    // namespaces, and its value is that namespace's.
    let namespace = records
        .as_ref()
        .ok()
        .and_then(|records| {
            crate::analysis::limits::per_entity(records)
                .remove(&client)?
                .into_iter()
                .next()
                .map(|top| top.namespace)
        })
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "platform.api".into());
    let today = today();
    let year = today
        .checked_sub_days(chrono::Days::new(365))
        .and_then(|first| DayWindow::new(first, today));
    // Without the definitions' names the events are summarised by definition id.
    let events = said(
        source
            .operational_events(&day_interval(plan.days), Some(&client))
            .await,
    );
    let event_names: HashMap<String, String> = events
        .iter()
        .flatten()
        .filter_map(|k| {
            let id = k.event.event_definition.as_ref()?.id.clone()?;
            Some((id, k.event_definition_name.clone()?))
        })
        .collect();
    let events = events.map(|kept| kept.into_iter().map(|k| k.event).collect());
    let fetched = Fetched {
        days: plan.days,
        client_id: client.clone(),
        client_name: name,
        daily,
        endpoints,
        records,
        org_limits: said(source.organization_limits(&namespace).await),
        org_limits_namespace: namespace,
        change_requests: match year {
            Some(year) => said(source.change_requests(year).await),
            None => Err("the last year has no day".into()),
        },
        events,
        event_names,
    };
    let mut case = Evidence::of(fetched);
    case.facts = evidence::facts(&case);
    for why in &case.missing {
        session.progress.note(&format!("evidence: {why}"));
    }
    let mut out = session.out()?;
    evidence::write(&mut out, session.format, &case)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// An answer of the limits family as the case holds it: the table, or why it is missing.
fn said<T>(answer: Family<T>) -> Result<T, String> {
    answer.map_err(|why| why.to_string())
}
