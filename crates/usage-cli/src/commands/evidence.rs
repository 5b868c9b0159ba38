//! `evidence --client ID`: one OAuth client's case for a support ticket asking for a higher
//! limit (or for its vendor): its usage from the source (the API or a dataset), and from the
//! API the near-limit records, the org's value of the limit, the requests to raise it and
//! the client's operational events. What cannot be read is said, never a failure: the usage
//! alone is evidence. An id with no usage in the window is not found (exit 7), whatever
//! the letter case of a known one.

use std::collections::{BTreeMap, HashMap};

use futures_util::StreamExt as _;
use usage_ext::DayWindow;

use crate::analysis::evidence::{Evidence, Fetched};
use crate::analysis::tally::Endpoint;
use crate::cli::{EvidenceArgs, Format, Window, resolve};
use crate::commands::declared::{Declared, writes};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::render::evidence;
use crate::session::Session;
use crate::source::api::{Api, day_instants, event_definition_names, forbidden, today};
use crate::source::row::Ask;
use crate::source::{RateLimits, Source};

/// A text summary, JSON, and the page.
pub const DECLARED: Declared = writes(&[Format::Table, Format::Json, Format::Html]);

/// The endpoints the case lists.
const ENDPOINTS: usize = 10;

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
    let ((client, name), daily, endpoints) = usage(source, plan).await?;
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

/// The client's name, its requests and 429s by day, and its endpoints (the most 429s, then
/// requests, first).
async fn usage(
    source: &Source,
    plan: &Plan,
) -> Result<
    (
        (String, String),
        BTreeMap<chrono::NaiveDate, (i64, i64)>,
        Vec<Endpoint>,
    ),
    Failure,
> {
    const PURPOSE: &str = "the evidence of one OAuth client";
    let asks = [
        Ask {
            days: plan.days,
            columns: Column::ENDPOINT_TOTALS.to_vec(),
            daily: false,
            needs: vec![
                Column::OauthClientId,
                Column::TemplateUri,
                Column::HttpMethod,
            ],
            purpose: PURPOSE,
        },
        Ask {
            days: plan.days,
            columns: vec![
                Column::OauthClientId,
                Column::OauthClientName,
                Column::RequestCount,
                Column::Status429,
            ],
            daily: true,
            needs: vec![Column::OauthClientId],
            purpose: PURPOSE,
        },
    ];
    let mut name = String::new();
    let mut id = String::new();
    let mut daily: BTreeMap<chrono::NaiveDate, (i64, i64)> = BTreeMap::new();
    let mut by_endpoint: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let mut seen = false;
    source
        .rows(&asks, plan.concurrency, |index, row| {
            if !row
                .text(Column::OauthClientId)
                .eq_ignore_ascii_case(&plan.client)
            {
                return Ok(());
            }
            if !seen {
                id = row.text(Column::OauthClientId).to_string();
            }
            seen = true;
            if name.is_empty() {
                name = row.text(Column::OauthClientName).to_string();
            }
            let (requests, limited) = (
                row.count(Column::RequestCount),
                row.count(Column::Status429),
            );
            let add = |sum: &mut (i64, i64)| {
                sum.0 = sum.0.saturating_add(requests);
                sum.1 = sum.1.saturating_add(limited);
            };
            match (index, row.date) {
                (0, _) => add(by_endpoint
                    .entry((
                        row.text(Column::HttpMethod).to_string(),
                        row.text(Column::TemplateUri).to_string(),
                    ))
                    .or_default()),
                (_, Some(date)) => add(daily.entry(date).or_default()),
                (_, None) => {}
            }
            Ok(())
        })
        .await?;
    if !seen {
        return Err(Failure::NotFound(format!(
            "--client {}: no usage of that OAuth client from {} to {}; check the id \
             (`genesys-usage report` lists the org's clients)",
            crate::untrusted::terminal(&plan.client),
            plan.days.first(),
            plan.days.last()
        )));
    }
    let mut endpoints: Vec<Endpoint> = by_endpoint
        .into_iter()
        .map(
            |((http_method, template_uri), (request_count, status429))| Endpoint {
                http_method,
                template_uri,
                request_count,
                status429,
                new: false,
                previous_request_count: None,
            },
        )
        .collect();
    endpoints.sort_by(|a, b| {
        (
            b.status429,
            b.request_count,
            &a.http_method,
            &a.template_uri,
        )
            .cmp(&(
                a.status429,
                a.request_count,
                &b.http_method,
                &b.template_uri,
            ))
    });
    endpoints.truncate(ENDPOINTS);
    Ok(((id, name), daily, endpoints))
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
