//! The evidence a support case for a higher limit asks for (or a vendor must see of their
//! integration): one OAuth client's requests and 429s day by day, its near-limit records
//! hour by hour, its endpoints, the limit it runs into with the org's value beside the
//! default, the org's requests to raise it, the operational events of the client, and the
//! facts in one paragraph. Computed from what was fetched; written by `render`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use usage_ext::models::{LimitChangeRequestDetails, OperationalEvent};
use usage_ext::{DayWindow, OrganizationLimit, RateLimitRecord};

use crate::analysis::limits::{self, NearLimit};
use crate::analysis::tally::{Endpoint, share};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::source::Source;
use crate::source::row::Ask;

/// One day of the client's usage.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    pub date: NaiveDate,
    pub request_count: i64,
    pub status429: i64,
}

/// One hour with near-limit records of the client.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NearLimitHour {
    pub hour: DateTime<Utc>,
    pub limit_key: String,
    pub namespace: String,
    /// The user the records name (a limit per user of an app).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub records: i64,
}

/// The limit the client runs into, as the org has it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OrgValue {
    pub key: String,
    pub namespace: String,
    pub value: Option<i64>,
    pub default_value: Option<i64>,
    pub raised: bool,
    pub configurable: Option<bool>,
    pub description: Option<String>,
}

/// One of the org's requests to raise the limit.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRequest {
    pub id: Option<String>,
    pub key: String,
    pub requested_value: f64,
    pub current_value: Option<f64>,
    pub status: Option<String>,
    pub date_created: Option<DateTime<Utc>>,
    pub date_completed: Option<DateTime<Utc>>,
    pub support_case_url: String,
}

/// One operational event of the client.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub date_created: Option<DateTime<Utc>>,
    pub event_definition_id: Option<String>,
    /// The definition's name, when the definitions could be read.
    pub event_definition_name: Option<String>,
    pub current_value: Option<String>,
}

/// The client's operational events of one day and definition: what a support case reads
/// (a year holds thousands of events of one definition).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EventDay {
    pub date: NaiveDate,
    /// The definition's name, else its id.
    pub event_definition: String,
    pub events: usize,
}

/// Everything the page and the JSON say.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub oauth_client_id: String,
    pub oauth_client_name: String,
    pub request_count: i64,
    pub status429: i64,
    pub status429_share: f64,
    pub days: Vec<Day>,
    pub top_endpoints: Vec<Endpoint>,
    /// The limits it came near, the most hours first (`None`: the records could not be read).
    pub limits: Option<Vec<NearLimit>>,
    pub near_limit_hours: Vec<NearLimitHour>,
    /// The org's value of the limit it came near the most (`None`: not known).
    pub org_value: Option<OrgValue>,
    /// The org's requests to raise that limit over the last year (`None`: not readable).
    pub change_requests: Option<Vec<ChangeRequest>>,
    /// The client's operational events (`None`: not readable).
    pub events: Option<Vec<Event>>,
    /// Those events per day and definition, oldest first.
    pub event_days: Option<Vec<EventDay>>,
    /// The facts a request for a higher limit needs, in one paragraph (written by `render`).
    pub facts: String,
    /// What could not be read, and why.
    pub missing: Vec<String>,
}

/// What was fetched for one client, before it is put together.
pub struct Fetched {
    pub days: DayWindow,
    pub client_id: String,
    pub client_name: String,
    pub daily: BTreeMap<NaiveDate, (i64, i64)>,
    pub endpoints: Vec<Endpoint>,
    /// `Err`: why they could not be read.
    pub records: Result<Vec<RateLimitRecord>, String>,
    pub org_limits: Result<Vec<OrganizationLimit>, String>,
    /// The namespace `org_limits` are of.
    pub org_limits_namespace: String,
    pub change_requests: Result<Vec<LimitChangeRequestDetails>, String>,
    pub events: Result<Vec<OperationalEvent>, String>,
    /// The event definitions' names by id (empty when they could not be read).
    pub event_names: std::collections::HashMap<String, String>,
}

impl Evidence {
    pub fn of(fetched: Fetched) -> Self {
        let mut missing = Vec::new();
        let mut note = |why: &String| {
            if !missing.contains(why) {
                missing.push(why.clone());
            }
        };
        let days: Vec<Day> = fetched
            .days
            .first()
            .iter_days()
            .take_while(|d| *d <= fetched.days.last())
            .map(|date| {
                let (request_count, status429) =
                    fetched.daily.get(&date).copied().unwrap_or_default();
                Day {
                    date,
                    request_count,
                    status429,
                }
            })
            .collect();
        let request_count = days
            .iter()
            .fold(0i64, |a, d| a.saturating_add(d.request_count));
        let status429 = days.iter().fold(0i64, |a, d| a.saturating_add(d.status429));
        let mine: Option<Vec<&RateLimitRecord>> = match &fetched.records {
            Ok(records) => Some(
                records
                    .iter()
                    .filter(|r| r.entity_id.as_deref() == Some(fetched.client_id.as_str()))
                    .filter(|r| r.count > 0)
                    .collect(),
            ),
            Err(why) => {
                note(why);
                None
            }
        };
        let limits = fetched.records.as_ref().ok().map(|records| {
            limits::per_entity(records)
                .remove(&fetched.client_id)
                .unwrap_or_default()
        });
        let near_limit_hours: Vec<NearLimitHour> = mine
            .iter()
            .flatten()
            .map(|r| NearLimitHour {
                hour: r.bucket_start,
                limit_key: r.limit_key.clone().unwrap_or_default(),
                namespace: r.namespace.clone().unwrap_or_default(),
                user_id: r.user_id.clone(),
                records: r.count,
            })
            .collect();
        let top = limits.as_ref().and_then(|l| l.first()).cloned();
        let org_value = match (&top, &fetched.org_limits) {
            // Paired by namespace and key, never by key alone.
            (Some(top), Ok(org)) => org
                .iter()
                .filter(|_| fetched.org_limits_namespace == top.namespace)
                .find(|l| l.key == top.limit_key)
                .map(|l| OrgValue {
                    key: l.key.clone(),
                    namespace: top.namespace.clone(),
                    value: l.value,
                    default_value: l.default,
                    raised: l.raised(),
                    configurable: l.configurable,
                    description: l.description.clone(),
                }),
            (Some(_), Err(why)) => {
                note(why);
                None
            }
            (None, _) => None,
        };
        let change_requests = match &fetched.change_requests {
            Ok(all) => Some(
                all.iter()
                    // The limit's own requests: its namespace and key.
                    .filter(|r| {
                        top.as_ref().is_none_or(|t| {
                            t.limit_key == r.key && t.namespace == r.namespace.as_str()
                        })
                    })
                    .map(|r| ChangeRequest {
                        id: r.id.clone(),
                        key: r.key.clone(),
                        requested_value: r.requested_value,
                        current_value: r.current_value,
                        status: r.status.as_ref().map(|s| s.as_str().to_string()),
                        date_created: r.date_created,
                        date_completed: r.date_completed,
                        support_case_url: r.support_case_url.clone(),
                    })
                    .collect(),
            ),
            Err(why) => {
                note(why);
                None
            }
        };
        let events = match &fetched.events {
            Ok(all) => Some(
                all.iter()
                    .filter(|e| e.entity_id.as_deref() == Some(fetched.client_id.as_str()))
                    .map(|e| {
                        let id = e.event_definition.as_ref().and_then(|d| d.id.clone());
                        Event {
                            date_created: e.date_created,
                            event_definition_name: id
                                .as_ref()
                                .and_then(|id| fetched.event_names.get(id))
                                .cloned(),
                            event_definition_id: id,
                            current_value: e.current_value.clone(),
                        }
                    })
                    .collect(),
            ),
            Err(why) => {
                note(why);
                None
            }
        };
        let event_days = events.as_ref().map(|events: &Vec<Event>| {
            let mut days: BTreeMap<(NaiveDate, String), usize> = BTreeMap::new();
            for e in events {
                let Some(at) = e.date_created else { continue };
                let definition = e
                    .event_definition_name
                    .clone()
                    .or_else(|| e.event_definition_id.clone())
                    .unwrap_or_default();
                *days.entry((at.date_naive(), definition)).or_default() += 1;
            }
            days.into_iter()
                .map(|((date, event_definition), events)| EventDay {
                    date,
                    event_definition,
                    events,
                })
                .collect()
        });
        Evidence {
            first_day: fetched.days.first(),
            last_day: fetched.days.last(),
            oauth_client_id: fetched.client_id,
            oauth_client_name: fetched.client_name,
            request_count,
            status429,
            status429_share: share(status429, request_count),
            days,
            top_endpoints: fetched.endpoints,
            limits,
            near_limit_hours,
            org_value,
            change_requests,
            events,
            event_days,
            facts: String::new(),
            missing,
        }
    }
}

/// The endpoints the case lists.
const ENDPOINTS: usize = 10;

/// The client's name, its requests and 429s by day, and its endpoints (the most 429s, then
/// requests, first).
pub async fn client_usage(
    source: &Source,
    client: &str,
    days: DayWindow,
    concurrency: usize,
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
            days,
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
            days,
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
        .rows(&asks, concurrency, |index, row| {
            if !row.text(Column::OauthClientId).eq_ignore_ascii_case(client) {
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
            crate::untrusted::terminal(client),
            days.first(),
            days.last()
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
