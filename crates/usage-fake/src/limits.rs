//! The limits family beside the usage: the org's limits (effective, default, documented),
//! its requests to raise one, the operational events and the rate-limit aggregates, with the
//! shapes and error codes of `limits-api` upstream.
//!
//! One story with the usage rows: a client's near-limit records come from its own 429s in
//! the same seeded traffic. A day on which an OAuth client got 429s has near-limit records
//! for it in the hours it runs (the nightly export at night, the attended clients in
//! business hours, the others around the clock), one hour per 500 429s, at least one and at
//! most its running hours; a client that got none has none. Where upstream is silent the
//! fake assumes (and its README says): `entityId` is the OAuth client's id (the app's, for
//! the per-user limit, whose records name the user in `userId`), a record's `max` is its
//! limit's effective value in its namespace, and each record is one operational event of
//! the "near a rate limit" definition. Which client is near which limit is
//! [`near_limit`]'s story.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use usage_models::{
    EventAggregatesQueryRequest, EventQueryRequest, Interval, RateLimitAggregationQuery,
};

use crate::data::{self, Cut, Dim, OAUTH_CLIENTS};
use crate::errors::{Refusal, parse_body};
use crate::faults::serve;
use crate::respond::json_response;
use crate::state::{Operation, Shared, State};

/// The namespace every limit here is in.
pub(crate) const NAMESPACE: &str = "platform.api";
/// The limit the near-limit records are of.
pub(crate) const CLIENT_LIMIT: &str = "client.credentials.token.rate.per.minute";

/// The documented limits: key, default, configurable, trackable, what it limits.
const LIMITS: [(&str, i64, bool, bool, &str); 4] = [
    (
        CLIENT_LIMIT,
        300,
        true,
        true,
        "Requests per client credentials grant token per minute",
    ),
    (
        "org.app.user.rate.per.minute",
        3000,
        true,
        true,
        "Requests per organization per OAuth client per user per minute",
    ),
    (
        "token.rate.per.minute",
        300,
        false,
        true,
        "Requests per token per minute",
    ),
    (
        "request.bytes.max",
        512_000,
        false,
        false,
        "Content length of a request payload",
    ),
];

/// The org's raised limit: the implemented change request raised it.
pub(crate) const RAISED: (&str, i64) = (CLIENT_LIMIT, 600);

/// The operational event definitions.
const DEFINITIONS: [(&str, &str, &str); 2] = [
    (
        "5a1f3c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b",
        "Rate limit near",
        "An OAuth client's requests reached 90 % of a trackable rate limit",
    ),
    (
        "6b2e4d3f-9c5e-4f7a-8b1c-2d3e4f5a6b7c",
        "Limit change request updated",
        "A request to raise one of the org's limits changed status",
    ),
];

/// Upstream's largest page of operational events.
const MAX_EVENT_PAGE: usize = 200;

fn value_of(key: &str) -> i64 {
    if key == RAISED.0 {
        return RAISED.1;
    }
    LIMITS.iter().find(|l| l.0 == key).map_or(0, |l| l.1)
}

/// The org's value of `key` in `namespace`: a key alone names no limit.
fn value_in(namespace: &str, key: &str) -> i64 {
    if namespace == OTHER_NAMESPACE {
        OTHER_VALUE
    } else {
        value_of(key)
    }
}

fn ok(state: &State, body: Value) -> Response {
    json_response(state, 200, body.to_string().into_bytes())
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(crate) async fn namespaces(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    serve(&state, Operation::GetOrganizationsLimitsNamespaces, &headers, || {
        let number = |name: &str, default: i64| {
            query
                .get(name)
                .map_or(Ok(default), |v| v.parse::<i64>().map_err(|_| v.clone()))
        };
        let (size, page) = match (number("pageSize", 100), number("pageNumber", 1)) {
            (Ok(size), Ok(page)) if size >= 1 && page >= 1 => (size, page),
            (Err(v), _) | (Ok(_), Err(v)) => {
                return Refusal::invalid_param("pageSize", &v, "a whole number").render(&state);
            }
            _ => {
                return Refusal::invalid_param("pageSize", "0", "1 or more").render(&state);
            }
        };
        let entities: Vec<Value> = if page == 1 {
            vec![json!({"name": NAMESPACE}), json!({"name": OTHER_NAMESPACE})]
        } else {
            Vec::new()
        };
        ok(
            &state,
            json!({"entities": entities, "pageSize": size, "pageNumber": page, "total": 2, "pageCount": 1}),
        )
    })
    .await
}

/// The org's limits in `namespace`: effective, or the defaults.
fn limits_of(state: &State, namespace: &str, effective: bool) -> Response {
    if namespace == OTHER_NAMESPACE {
        // Its one limit here, at its default (upstream documents no auth.api key).
        return ok(
            state,
            json!({"entities": [{"key": CLIENT_LIMIT, "namespace": OTHER_NAMESPACE, "value": OTHER_VALUE}]}),
        );
    }
    if namespace != NAMESPACE {
        return Refusal::not_found().render(state);
    }
    let entities: Vec<Value> = LIMITS
        .iter()
        .map(|(key, default, ..)| {
            let value = if effective { value_of(key) } else { *default };
            json!({"key": key, "namespace": NAMESPACE, "value": value})
        })
        .collect();
    ok(state, json!({"entities": entities}))
}

pub(crate) async fn namespace(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
) -> Response {
    serve(
        &state,
        Operation::GetOrganizationsLimitsNamespace,
        &headers,
        || limits_of(&state, &namespace, true),
    )
    .await
}

pub(crate) async fn namespace_defaults(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
) -> Response {
    serve(
        &state,
        Operation::GetOrganizationsLimitsNamespaceDefaults,
        &headers,
        || limits_of(&state, &namespace, false),
    )
    .await
}

pub(crate) async fn docs(Extract(state): Extract<Shared>, headers: HeaderMap) -> Response {
    serve(
        &state,
        Operation::GetOrganizationsLimitsDocs,
        &headers,
        || {
            let limits: Vec<Value> = LIMITS
                .iter()
                .map(|(key, default, configurable, trackable, description)| {
                    json!({"key": key, "defaultValue": default, "description": description,
                       "resource": "requests", "configurable": configurable,
                       "trackable": trackable})
                })
                .collect();
            ok(
                &state,
                json!({"url": "https://developer.genesys.cloud/organization/organization/limits",
                   "namespaces": [{"name": NAMESPACE, "friendlyName": "Platform API",
                                   "limits": limits},
                                  {"name": OTHER_NAMESPACE, "friendlyName": "Auth API",
                                   "limits": [{"key": CLIENT_LIMIT, "defaultValue": OTHER_VALUE,
                                               "description": "Requests per client credentials grant token per minute (assumed)",
                                               "resource": "requests", "configurable": true,
                                               "trackable": true}]}]}),
            )
        },
    )
    .await
}

/// A change request: id, key, requested value, days before the last day with data it was
/// made, and the statuses it went through (the last is where it stands).
struct ChangeRequest {
    id: &'static str,
    namespace: &'static str,
    key: &'static str,
    requested: f64,
    made: u64,
    statuses: &'static [&'static str],
    reject_reason: Option<&'static str>,
}

const CHANGE_REQUESTS: [ChangeRequest; 4] = [
    ChangeRequest {
        id: "c1a0f00d-0000-4000-8000-000000000001",
        namespace: NAMESPACE,
        key: CLIENT_LIMIT,
        requested: 600.0,
        made: 120,
        statuses: &[
            "Open",
            "Pending",
            "Approved",
            "ImplementingChange",
            "ChangeImplemented",
        ],
        reject_reason: None,
    },
    ChangeRequest {
        id: "c1a0f00d-0000-4000-8000-000000000002",
        namespace: NAMESPACE,
        key: "token.rate.per.minute",
        requested: 1000.0,
        made: 60,
        statuses: &["Open", "Pending", "Rejected"],
        reject_reason: Some("IncreaseNotRequired"),
    },
    ChangeRequest {
        id: "c1a0f00d-0000-4000-8000-000000000003",
        namespace: NAMESPACE,
        key: "org.app.user.rate.per.minute",
        requested: 5000.0,
        made: 10,
        statuses: &["Open"],
        reject_reason: None,
    },
    // The same key in another namespace: a real org's listing mixes namespaces, and a key
    // alone does not name a limit.
    ChangeRequest {
        id: "c1a0f00d-0000-4000-8000-000000000004",
        namespace: OTHER_NAMESPACE,
        key: CLIENT_LIMIT,
        requested: 500.0,
        made: 30,
        statuses: &["Open", "Pending"],
        reject_reason: None,
    },
];

/// The namespace of the change request that is not of `platform.api`.
pub(crate) const OTHER_NAMESPACE: &str = "auth.api";
/// Its key's value there (upstream documents no `auth.api` key; assumed the default).
const OTHER_VALUE: i64 = 300;

impl ChangeRequest {
    fn created(&self) -> DateTime<Utc> {
        let day = data::last_day_with_data()
            .checked_sub_days(Days::new(self.made))
            .unwrap_or(NaiveDate::MIN);
        day_start(day) + Duration::hours(15)
    }

    fn status(&self) -> &'static str {
        self.statuses.last().copied().unwrap_or("Open")
    }

    /// The limit's value now, in its own namespace.
    fn current_value(&self) -> i64 {
        value_in(self.namespace, self.key)
    }

    fn completed(&self) -> Option<DateTime<Utc>> {
        matches!(
            self.status(),
            "ChangeImplemented" | "Rejected" | "RollbackImplemented"
        )
        .then(|| self.created() + Duration::days(self.statuses.len() as i64 - 1))
    }

    fn body(&self, history: bool) -> Value {
        let mut body = json!({
            "id": self.id,
            "key": self.key,
            "namespace": self.namespace,
            "requestedValue": self.requested,
            "description": format!("Raise {} to {}", self.key, self.requested),
            "supportCaseUrl": format!("https://support.genesys.com/cases/{}", &self.id[29..]),
            "status": self.status(),
            "currentValue": self.current_value() as f64,
            "dateCreated": iso(self.created()),
            "approvalNamespaces": [{"namespace": self.namespace, "status": self.status(), "type": "Primary"}],
            "selfUri": format!("/api/v2/organizations/limits/changerequests/{}", self.id),
        });
        if let Some(done) = self.completed() {
            body["dateCompleted"] = json!(iso(done));
        }
        if let Some(reason) = self.reject_reason {
            body["rejectReason"] = json!(reason);
        }
        if history {
            let steps: Vec<Value> = self
                .statuses
                .iter()
                .enumerate()
                .map(|(i, status)| {
                    let mut step = json!({
                        "dateStatusChanged": iso(self.created() + Duration::days(i as i64)),
                        "status": status,
                        "namespace": self.namespace,
                    });
                    if i > 0 {
                        step["previousStatus"] = json!(self.statuses[i - 1]);
                    }
                    if *status == "Rejected"
                        && let Some(reason) = self.reject_reason
                    {
                        step["rejectReason"] = json!(reason);
                    }
                    step
                })
                .collect();
            body["statusHistory"] = json!(steps);
        }
        body
    }
}

pub(crate) async fn change_requests(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    serve(
        &state,
        Operation::GetOrganizationsLimitsChangerequests,
        &headers,
        || {
            let one = |name: &str| {
                query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let millis = |name: &str| match one(name) {
                None => Ok(None),
                Some(v) => v
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| Refusal::invalid_param(name, &v, "a timestamp in milliseconds")),
            };
            let (after, before) = match (millis("after"), millis("before")) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return e.render(&state),
            };
            // Upstream: the last 365 days when neither is given, 180 days from the one given.
            let day = 86_400_000i64;
            let now = Utc::now().timestamp_millis();
            let (from, to) = match (after, before) {
                (None, None) => (now - 365 * day, now),
                (Some(a), None) => (a, a.saturating_add(180 * day)),
                (None, Some(b)) => (b.saturating_sub(180 * day), b),
                (Some(a), Some(b)) => (a, b),
            };
            let status = one("status");
            let history = query
                .iter()
                .any(|(k, v)| k == "expand" && v == "statusHistory");
            // Upstream's default page is 25; what follows a page is not documented (the
            // listing takes no page or cursor parameter): the fake says there is more with
            // a `nextUri`, and a client narrows `after`/`before` to reach it.
            let page_size = match one("pageSize").map(|v| (v.parse::<usize>(), v)) {
                None => 25,
                Some((Ok(n), _)) if n >= 1 => n,
                Some((_, v)) => {
                    return Refusal::invalid_param("pageSize", &v, "a number from 1").render(&state);
                }
            };
            let mut entities: Vec<Value> = CHANGE_REQUESTS
                .iter()
                .filter(|r| {
                    let at = r.created().timestamp_millis();
                    from <= at && at <= to
                })
                .filter(|r| status.as_deref().is_none_or(|s| s == r.status()))
                .map(|r| r.body(history))
                .collect();
            let self_uri = format!(
                "/api/v2/organizations/limits/changerequests?after={from}&before={to}&pageSize={page_size}"
            );
            let mut body = json!({"selfUri": self_uri});
            if entities.len() > page_size {
                entities.truncate(page_size);
                body["nextUri"] = json!(format!("{self_uri}&pageNumber=2"));
            }
            body["entities"] = json!(entities);
            ok(&state, body)
        },
    )
    .await
}

pub(crate) async fn change_request(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    serve(
        &state,
        Operation::GetOrganizationsLimitsChangerequest,
        &headers,
        || match CHANGE_REQUESTS.iter().find(|r| r.id == id) {
            Some(request) => ok(&state, request.body(true)),
            None => Refusal::not_found().render(&state),
        },
    )
    .await
}

pub(crate) async fn event_definitions(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
) -> Response {
    serve(&state, Operation::GetUsageEventsDefinitions, &headers, || {
        let entities: Vec<Value> = DEFINITIONS
            .iter()
            .map(|(id, name, description)| json!({"id": id, "name": name, "description": description}))
            .collect();
        ok(&state, json!({"entities": entities}))
    })
    .await
}

pub(crate) async fn event_definition(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    serve(
        &state,
        Operation::GetUsageEventsDefinition,
        &headers,
        || match DEFINITIONS.iter().find(|d| d.0 == id) {
            Some((id, name, description)) => ok(
                &state,
                json!({"id": id, "name": name, "description": description}),
            ),
            None => Refusal::not_found().render(&state),
        },
    )
    .await
}

/// The limits the near-limit records are of: namespace, key and the value the records are
/// made against. The same key in two namespaces is two limits (a key alone names none).
pub(crate) const TRACKED: [(&str, &str); 4] = [
    (NAMESPACE, CLIENT_LIMIT),
    (NAMESPACE, "token.rate.per.minute"),
    (OTHER_NAMESPACE, CLIENT_LIMIT),
    (NAMESPACE, USER_LIMIT),
];

/// The per-user limit of an app its users sign in to (a user token, not client
/// credentials): its records name the user (`userId`) beside the app (`entityId`).
const USER_LIMIT: &str = "org.app.user.rate.per.minute";

/// Who a record is of: one of the org's OAuth clients, or an id the org does not know (a
/// deleted client, as upstream keeps records of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Entity {
    Client(usize),
    Unknown,
}

/// The id of the entity the org does not know.
pub(crate) const UNKNOWN_ENTITY: &str = "0b5e1e7e-0000-4bee-8000-00000000d31e";

impl Entity {
    fn id(self) -> &'static str {
        match self {
            Entity::Client(c) => OAUTH_CLIENTS[c].0,
            Entity::Unknown => UNKNOWN_ENTITY,
        }
    }

    fn name(self) -> Option<&'static str> {
        match self {
            Entity::Client(c) => Some(OAUTH_CLIENTS[c].1),
            Entity::Unknown => None,
        }
    }
}

/// A near-limit record: one hour in which an entity came near one of the `TRACKED` limits,
/// as one of the app's users for the per-user limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NearLimit {
    pub entity: Entity,
    /// Its place in `TRACKED`.
    pub limit: usize,
    pub hour: DateTime<Utc>,
    /// The user (`userId`), for the per-user limit.
    pub user: Option<&'static str>,
}

impl NearLimit {
    fn tracked(&self) -> (&'static str, &'static str, i64) {
        let (namespace, key) = TRACKED[self.limit];
        (namespace, key, value_in(namespace, key))
    }
}

/// The hours (UTC) a client of the demo org runs in: the nightly export at night, the
/// attended clients in business hours, the others around the clock.
fn running_hours(client: usize) -> std::ops::Range<u32> {
    match OAUTH_CLIENTS.get(client).map(|c| c.1) {
        Some("Nightly WFM export") => 0..6,
        Some("CRM screen pop" | "Wallboard") => 8..18,
        _ => 0..24,
    }
}

/// The near-limit records of the days `first` to `last` (today's of the hours begun), from
/// the clients' 429s on each:
/// on a day a client got 429s it is near the client-credentials limit one hour per 500 of
/// them, from the middle of its running hours outwards. Besides (one story, still only on
/// days with 429s): the CRM screen pop is near `token.rate.per.minute` too, in every other
/// of those hours and in the three hours after them (near two limits in the same hours and
/// in others); the Nightly WFM export is near the same key in `auth.api` in its first two
/// hours (a key in two namespaces); an id the org does not know is near the
/// client-credentials limit at noon on each day the CRM screen pop is; and the Wallboard,
/// an app its users sign in to, is near the per-user limit instead, as its first signed-in
/// user in each of those hours and as the second in every other one (two records in one
/// hour).
pub(crate) fn near_limit(state: &State, first: NaiveDate, last: NaiveDate) -> Vec<NearLimit> {
    let cut = Cut {
        client: None,
        dims: vec![Dim::Client],
        granularity: Some(usage_models::Granularity::Day),
        first,
        last,
        filters: Default::default(),
        sort: Vec::new(),
    };
    let mut records = Vec::new();
    // Today's too, the hours begun so far: the near-limit records and the events are
    // fresh where the usage lags a day (the day's 429s decide them, as on other days).
    let now = Utc::now();
    for cell in cut.rows_until(state.config.seed, state.series(), now.date_naive()) {
        let (Some(day), Some((id, _))) = (cell.date, cell.key.client()) else {
            continue;
        };
        let Some(client) = OAUTH_CLIENTS.iter().position(|c| c.0 == id) else {
            continue;
        };
        if cell.counts.status429 <= 0 {
            continue;
        }
        let hours = running_hours(client);
        let span = i64::from(hours.end - hours.start);
        let near = (cell.counts.status429 / 500 + 1).min(span);
        // Spread over the running hours, from the busiest (the middle) outwards.
        let middle = i64::from(hours.start) + span / 2;
        let mut own: Vec<i64> = (0..near)
            .map(|n| {
                let offset = if n % 2 == 0 { n / 2 } else { -(n / 2 + 1) };
                (middle + offset).clamp(i64::from(hours.start), i64::from(hours.end) - 1)
            })
            .collect();
        own.sort_unstable();
        own.dedup();
        let at = |hour: i64| day_start(day) + Duration::hours(hour);
        let entity = Entity::Client(client);
        match OAUTH_CLIENTS[client].1 {
            // A user-token app: near the per-user limit, as its users, not the
            // client-credentials one.
            "Wallboard" => {
                let [first, second, ..] = data::SIGNED_IN_USERS;
                for (n, &hour) in own.iter().enumerate() {
                    records.push(NearLimit {
                        entity,
                        limit: 3,
                        hour: at(hour),
                        user: Some(first),
                    });
                    if n % 2 == 0 {
                        records.push(NearLimit {
                            entity,
                            limit: 3,
                            hour: at(hour),
                            user: Some(second),
                        });
                    }
                }
                continue;
            }
            _ => {
                for &hour in &own {
                    records.push(NearLimit {
                        entity,
                        limit: 0,
                        hour: at(hour),
                        user: None,
                    });
                }
            }
        }
        match OAUTH_CLIENTS[client].1 {
            "CRM screen pop" => {
                let after = own.last().copied().unwrap_or(middle);
                let others = (after + 1..i64::from(hours.end)).take(3);
                for hour in own.iter().copied().step_by(2).chain(others) {
                    records.push(NearLimit {
                        entity,
                        limit: 1,
                        hour: at(hour),
                        user: None,
                    });
                }
                records.push(NearLimit {
                    entity: Entity::Unknown,
                    limit: 0,
                    hour: at(12),
                    user: None,
                });
            }
            "Nightly WFM export" => {
                for &hour in own.iter().take(2) {
                    records.push(NearLimit {
                        entity,
                        limit: 2,
                        hour: at(hour),
                        user: None,
                    });
                }
            }
            _ => {}
        }
    }
    records.retain(|r| r.hour <= now);
    records.sort_by_key(|r| (r.hour, r.entity, r.limit, r.user));
    records.dedup();
    records
}

/// The interval of a body, as the usage queries read one.
fn interval_of(text: &str) -> Result<Interval, Refusal> {
    let interval = Interval::parse(text)
        .map_err(|e| Refusal::constraint(&format!("interval: {}", e.reason)))?;
    if interval.end <= interval.start {
        return Err(Refusal::constraint(
            "interval: the end must be after the start",
        ));
    }
    Ok(interval)
}

/// The records in `interval`, the days around it read.
fn records_in(state: &State, interval: &Interval) -> Vec<NearLimit> {
    let first = interval.start.date_naive();
    let last = interval.end.date_naive();
    near_limit(state, first, last)
        .into_iter()
        .filter(|r| interval.start <= r.hour && r.hour < interval.end)
        .collect()
}

/// An ISO-8601 period of whole hours or days (`PT1H`, `P1D`, `P7D`), as hours.
fn period_hours(text: &str) -> Option<i64> {
    let n = |s: &str| s.parse::<i64>().ok().filter(|n| *n > 0);
    if let Some(h) = text.strip_prefix("PT").and_then(|r| r.strip_suffix('H')) {
        return n(h);
    }
    if let Some(d) = text.strip_prefix('P').and_then(|r| r.strip_suffix('D')) {
        return n(d).map(|d| d * 24);
    }
    if let Some(w) = text.strip_prefix('P').and_then(|r| r.strip_suffix('W')) {
        return n(w).map(|w| w * 24 * 7);
    }
    None
}

/// A group's time buckets: each one's start and its near-limit records.
type Buckets = Vec<(DateTime<Utc>, i64)>;

pub(crate) async fn rate_limit_aggregates(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &state,
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        &headers,
        || {
            let query: RateLimitAggregationQuery = match parse_body(&body) {
                Ok(query) => query,
                Err(refusal) => return refusal.render(&state),
            };
            let interval = match interval_of(&query.interval) {
                Ok(interval) => interval,
                Err(refusal) => return refusal.render(&state),
            };
            if query.metrics.is_empty() {
                return Refusal::constraint("metrics: give oRateLimitRecorded").render(&state);
            }
            let bucket = match query.granularity.as_deref() {
                None => None,
                Some(text) => match period_hours(text) {
                    Some(hours) => Some(hours),
                    None => {
                        return Refusal::invalid_value("granularity", text, &["PT1H", "P1D"])
                            .render(&state);
                    }
                },
            };
            let group_by: Vec<&str> = query.group_by.iter().map(|g| g.as_str()).collect();
            let mut groups: Vec<(Value, i64, Buckets)> = Vec::new();
            for record in records_in(&state, &interval) {
                let id = record.entity.id();
                let (namespace, key, value) = record.tracked();
                let mut group = serde_json::Map::new();
                for dimension in &group_by {
                    let value = match *dimension {
                        "entityId" => json!(id),
                        "limitName" => json!(key),
                        "namespace" => json!(namespace),
                        "max" => json!(value.to_string()),
                        "timeUnit" => json!("minute"),
                        "userId" => match record.user {
                            Some(user) => json!(user),
                            // Analytics leaves a dimension a record has no value for out
                            // of its group.
                            None => continue,
                        },
                        _ => continue,
                    };
                    group.insert((*dimension).to_string(), value);
                }
                let group = Value::Object(group);
                let start = match bucket {
                    None => interval.start,
                    Some(hours) => {
                        let since = (record.hour - interval.start).num_hours() / hours * hours;
                        interval.start + Duration::hours(since)
                    }
                };
                let index = match groups
                    .iter()
                    .position(|(g, v, _)| *g == group && *v == value)
                {
                    Some(i) => i,
                    None => {
                        groups.push((group, value, Vec::new()));
                        groups.len() - 1
                    }
                };
                let buckets = &mut groups[index].2;
                match buckets.iter_mut().find(|(at, _)| *at == start) {
                    Some((_, count)) => *count += 1,
                    None => buckets.push((start, 1)),
                }
            }
            let results: Vec<Value> = groups
                .into_iter()
                .map(|(group, value, buckets)| {
                    let data: Vec<Value> = buckets
                        .into_iter()
                        .map(|(start, count)| {
                            let end = match bucket {
                                None => interval.end,
                                Some(hours) => (start + Duration::hours(hours)).min(interval.end),
                            };
                            json!({"interval": format!("{}/{}", iso(start), iso(end)),
                               "metrics": [{"metric": "oRateLimitRecorded",
                                            "stats": {"count": count,
                                                      "max": value as f64}}]})
                        })
                        .collect();
                    json!({"group": group, "data": data})
                })
                .collect();
            ok(&state, json!({"results": results}))
        },
    )
    .await
}

pub(crate) async fn events_query(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    serve(&state, Operation::PostUsageEventsQuery, &headers, || {
        let request: EventQueryRequest = match parse_body(&body) {
            Ok(request) => request,
            Err(refusal) => return refusal.render(&state),
        };
        let interval = match interval_of(&request.interval) {
            Ok(interval) => interval,
            Err(refusal) => return refusal.render(&state),
        };
        let size = match query.get("pageSize").map(|v| v.parse::<usize>()) {
            None => 25,
            Some(Ok(n @ 1..=MAX_EVENT_PAGE)) => n,
            Some(_) => {
                let given = query.get("pageSize").cloned().unwrap_or_default();
                return Refusal::invalid_param("pageSize", &given, "1 to 200").render(&state);
            }
        };
        let near = DEFINITIONS[0].0;
        let wanted = |id: &str| {
            request.event_definition_ids.is_empty()
                || request.event_definition_ids.iter().any(|d| d == id)
        };
        let mut events: Vec<Value> = if wanted(near) {
            records_in(&state, &interval)
                .into_iter()
                .map(|r| {
                    let (_, _, value) = r.tracked();
                    let mut event = json!({"eventDefinition": {"id": near,
                                               "selfUri": format!("/api/v2/usage/events/definitions/{near}")},
                           "entityId": r.entity.id(),
                           "currentValue": value.to_string(),
                           "dateCreated": iso(r.hour)});
                    if let Some(name) = r.entity.name() {
                        event["entityName"] = json!(name);
                    }
                    event
                })
                .filter(|e| {
                    request.search_term.as_deref().is_none_or(|t| {
                        e["entityName"].as_str().is_some_and(|n| n.contains(t))
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        if request
            .sort_order
            .as_ref()
            .is_none_or(|o| o.as_str() != "ASC")
        {
            events.reverse();
        }
        let from = match query.get("after").map(|v| event_cursor_position(v)) {
            None => 0,
            Some(Some(n)) if n <= events.len() => n,
            Some(_) => {
                let given = query.get("after").cloned().unwrap_or_default();
                return Refusal::invalid_param("after", &given, "a cursor this query returned")
                    .render(&state);
            }
        };
        let to = (from + size).min(events.len());
        let page: Vec<Value> = events[from..to].to_vec();
        let mut body = json!({"entities": page,
                              "selfUri": format!("/api/v2/usage/events/query?pageSize={size}")});
        if to < events.len() {
            body["nextUri"] = json!(format!(
                "/api/v2/usage/events/query?after={}&pageSize={size}",
                percent_encoded(&event_cursor(to))
            ));
        }
        if from > 0 {
            body["previousUri"] = json!(format!(
                "/api/v2/usage/events/query?before={}&pageSize={size}",
                percent_encoded(&event_cursor(from))
            ));
        }
        ok(&state, body)
    })
    .await
}

pub(crate) async fn events_aggregates(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Operation::PostUsageEventsAggregatesQuery, &headers, || {
        let request: EventAggregatesQueryRequest = match parse_body(&body) {
            Ok(request) => request,
            Err(refusal) => return refusal.render(&state),
        };
        let interval = match interval_of(&request.interval) {
            Ok(interval) => interval,
            Err(refusal) => return refusal.render(&state),
        };
        let near = records_in(&state, &interval).len();
        let aggregates: Vec<Value> = DEFINITIONS
            .iter()
            .enumerate()
            .map(|(i, (id, ..))| {
                let count = if i == 0 { near } else { 0 };
                json!({"eventDefinition": {"id": id,
                                           "selfUri": format!("/api/v2/usage/events/definitions/{id}")},
                       "eventCount": i32::try_from(count).unwrap_or(i32::MAX)})
            })
            .collect();
        ok(
            &state,
            json!({"interval": request.interval, "eventDefinitionAggregates": aggregates}),
        )
    })
    .await
}

/// An events cursor as upstream's look: opaque, base64 with `+`, `/` and `=` in it, so that a
/// client that does not decode the `nextUri`'s value, or encodes it twice, is refused.
fn event_cursor(position: usize) -> String {
    format!("ev+{position}/c==")
}

/// The position an events cursor stands for (`None`: not a cursor of this fake's).
fn event_cursor_position(cursor: &str) -> Option<usize> {
    cursor
        .strip_prefix("ev+")?
        .strip_suffix("/c==")?
        .parse()
        .ok()
}

/// A query value percent-encoded, as a `nextUri` carries it.
fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
