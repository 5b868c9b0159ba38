//! `evidence --client ID`: one OAuth client's case for a support ticket asking for a higher
//! limit (or for its vendor): its usage from the source (the API or a dataset), and from the
//! API the near-limit records, the org's value of the limit, the requests to raise it and
//! the client's operational events. What cannot be read is said, never a failure: the usage
//! alone is evidence. An id with no usage in the window is not found (exit 7), whatever
//! the letter case of a known one.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use usage_ext::DayWindow;

use crate::analysis::evidence::{Evidence, Fetched, client_usage};
use crate::cli::{EvidenceArgs, Format, Window, resolve};
use crate::commands::declared::{Declared, writes};
use crate::exit::Failure;
use crate::render::evidence;
use crate::session::Session;
use crate::source::api::{Api, day_instants, event_definition_names, forbidden, today};
use crate::source::{RateLimits, Source};

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
    let records = match source.rate_limit_records(plan.days).await {
        RateLimits::Records(records) => Ok(records),
        RateLimits::Unavailable(why) => Err(why),
    };
    let mut fetched = Fetched {
        days: plan.days,
        client_id: client.clone(),
        client_name: name,
        daily,
        endpoints,
        records,
        org_limits: Err("--from: the org's limits come from the API".into()),
        org_limits_namespace: String::new(),
        change_requests: Err("--from: the change requests come from the API".into()),
        events: Err("--from: the operational events come from the API".into()),
        event_names: HashMap::new(),
    };
    if let Some(api) = source.api() {
        limits_family(api, &client, plan, &mut fetched).await;
    }
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

/// What a failed request of the limits family means for the case: a permission to ask
/// for, or the error.
fn why(error: &usage_ext::Error, permission: &str, adds: &str) -> String {
    if forbidden(error) {
        format!("the login lacks {permission}, which would add {adds}")
    } else {
        format!("{adds}: {error}")
    }
}

/// The org's limits (of the namespace the client came near), the change requests of the
/// last year and the client's operational events in the window.
async fn limits_family(api: &Api, client: &str, plan: &Plan, fetched: &mut Fetched) {
    let queries = api.queries();
    // The namespace of the limit the client came near the most: a key may stand in two
    // namespaces, and its value is that namespace's.
    let namespace = fetched
        .records
        .as_ref()
        .ok()
        .and_then(|records| {
            crate::analysis::limits::per_entity(records)
                .remove(client)?
                .into_iter()
                .next()
                .map(|top| top.namespace)
        })
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "platform.api".into());
    fetched.org_limits_namespace = namespace.clone();
    fetched.org_limits = queries
        .organization_limits(&namespace)
        .await
        .map_err(|e| why(&e, "the limits' permission", "the org's value of the limit"));
    let today = today();
    fetched.change_requests = match today
        .checked_sub_days(chrono::Days::new(365))
        .and_then(|first| DayWindow::new(first, today))
    {
        Some(year) => queries.change_requests(year).await.map_err(|e| {
            why(
                &e,
                "limits:organization:view",
                "the org's requests to raise the limit",
            )
        }),
        None => Err("the last year has no day".into()),
    };
    // Best effort: without the names the events are summarised by definition id.
    fetched.event_names = event_definition_names(api).await.unwrap_or_default();
    let interval = day_instants(plan.days);
    fetched.events = match queries.operational_events(&interval) {
        Ok(stream) => {
            let mut events = Vec::new();
            let mut stream = std::pin::pin!(stream);
            let mut failed = None;
            while let Some(event) = stream.next().await {
                match event {
                    Ok(event) => {
                        if event.entity_id.as_deref() == Some(client) {
                            events.push(event);
                        }
                    }
                    Err(e) => {
                        failed = Some(why(&e, "usage:events:view", "the operational events"));
                        break;
                    }
                }
            }
            failed.map_or(Ok(events), Err)
        }
        Err(e) => Err(why(&e, "usage:events:view", "the operational events")),
    };
}
