//! Deterministic, realistic usage rows: the same execution seed gives the same rows.

use serde::Serialize;
use usage_models::{Granularity, OrganizationGroupBy};

use crate::state::Execution;

/// (templateUri, httpMethod): what integrations call most. No leading slash, as the
/// service answers.
const ENDPOINTS: &[(&str, &str)] = &[
    ("api/v2/analytics/conversations/details/query", "POST"),
    ("api/v2/analytics/conversations/aggregates/query", "POST"),
    ("api/v2/routing/queues", "GET"),
    ("api/v2/routing/queues/{queueId}/members", "GET"),
    ("api/v2/users", "GET"),
    ("api/v2/users/{userId}", "GET"),
    ("api/v2/users/{userId}/presences/purecloud", "PATCH"),
    ("api/v2/conversations/{conversationId}", "GET"),
    (
        "api/v2/conversations/calls/{conversationId}/participants/{participantId}",
        "PATCH",
    ),
    ("api/v2/recording/jobs", "POST"),
    (
        "api/v2/workforcemanagement/managementunits/{muId}/schedules",
        "GET",
    ),
    ("api/v2/outbound/campaigns/{campaignId}", "PUT"),
    ("api/v2/flows/datatables/{datatableId}/rows", "GET"),
    ("api/v2/notifications/channels", "POST"),
    ("api/v2/usage/query", "POST"),
    ("api/v2/authorization/roles", "GET"),
];

/// (client id, client name): the org's OAuth clients, the only ones the fake knows. A
/// client query, summary or job for another client id is a 404, as the service answers.
pub const OAUTH_CLIENTS: &[(&str, &str)] = &[
    ("4c4e8a4a-5b1e-4b8e-9d4b-0f1e2d3c4b5a", "Nightly WFM export"),
    ("9f0e1d2c-3b4a-4968-8766-554433221100", "CRM screen pop"),
    ("1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d", "Data lake sync"),
    ("7d6c5b4a-3f2e-41d0-8b9a-8f7e6d5c4b3a", "Wallboard"),
    ("0f9e8d7c-6b5a-4493-a281-706f5e4d3c2b", "QA scoring bot"),
];

const USERS: &[&str] = &[
    "c0ffee00-1111-4222-8333-444455556666",
    "deadbeef-7777-4888-9999-aaaabbbbcccc",
    "",
];

const ORGANIZATION_ID: &str = "8a1b2c3d-0000-4000-8000-00000000cafe";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    client_id: &'static str,
    client_name: &'static str,
    organization_id: &'static str,
    user_id: &'static str,
    template_uri: &'static str,
    http_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status200: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status300: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status400: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status500: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status429: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
}

struct Rows<'a> {
    execution: &'a Execution,
}

/// One group key: the dimensions a row is grouped by; `""` where not grouped, as the
/// service answers.
#[derive(Clone, Copy)]
struct Key {
    client: (&'static str, &'static str),
    organization_id: &'static str,
    user_id: &'static str,
    endpoint: (&'static str, &'static str),
}

/// The clients whose rows an execution may see: all of the org's, or the one a client query
/// names (never another client's rows).
fn clients_of(e: &Execution) -> Vec<(&'static str, &'static str)> {
    match &e.owner {
        crate::state::Owner::Organization => OAUTH_CLIENTS.to_vec(),
        crate::state::Owner::Client(id) => known_client(id).into_iter().collect(),
    }
}

/// Every distinct key the query's groupBy allows, in a seeded order.
fn keys(e: &Execution, rng: &mut fastrand::Rng) -> Vec<Key> {
    let grouped = |d: OrganizationGroupBy| e.group_by.contains(&d);
    let clients: Vec<(&str, &str)> = if grouped(OrganizationGroupBy::OAuthClientId) {
        clients_of(e)
    } else {
        vec![("", "")]
    };
    let organizations = if grouped(OrganizationGroupBy::OrganizationId) {
        ORGANIZATION_ID
    } else {
        ""
    };
    let users: Vec<&str> = if grouped(OrganizationGroupBy::UserId) {
        USERS.to_vec()
    } else {
        vec![""]
    };
    let mut endpoints: Vec<(&str, &str)> = ENDPOINTS
        .iter()
        .map(|&(uri, method)| {
            (
                if grouped(OrganizationGroupBy::TemplateUri) {
                    uri
                } else {
                    ""
                },
                if grouped(OrganizationGroupBy::HttpMethod) {
                    method
                } else {
                    ""
                },
            )
        })
        .collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    let mut keys = Vec::with_capacity(clients.len() * users.len() * endpoints.len());
    for &client in &clients {
        for &user_id in &users {
            for &endpoint in &endpoints {
                keys.push(Key {
                    client,
                    organization_id: organizations,
                    user_id,
                    endpoint,
                });
            }
        }
    }
    rng.shuffle(&mut keys);
    keys
}

/// A row's request counts.
struct Counts {
    requests: i64,
    status200: i64,
    status300: i64,
    status400: i64,
    status429: i64,
    status500: i64,
}

fn counts(rng: &mut fastrand::Rng) -> Counts {
    // Heavy-tailed volumes: most rows are small, a few integrations dominate.
    let requests = (rng.f64().powi(4) * 200_000.0) as i64 + 1;
    // The busiest integrations are the ones that meet the rate limit.
    let limited = requests > 50_000 || rng.u8(..) < 40;
    let status429 = if limited {
        rng.i64(0..=requests / 20)
    } else {
        0
    };
    let status400 = status429 + rng.i64(0..=requests / 50);
    let status500 = if rng.u8(..) < 10 {
        rng.i64(0..=requests / 200)
    } else {
        0
    };
    // Redirects are rare but real (the service counts them): not always zero.
    let status300 = if rng.u8(..) < 20 {
        rng.i64(0..=requests / 100)
    } else {
        0
    };
    Counts {
        requests,
        status200: requests - status400 - status500 - status300,
        status300,
        status400,
        status429,
        status500,
    }
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let e = self.execution;
        let mut rng = fastrand::Rng::with_seed(e.seed);
        let keys = keys(e, &mut rng);
        let mut seq = serializer.serialize_seq(Some(e.rows))?;
        for i in 0..e.rows {
            // Each key once per date bucket; keys repeat only past the distinct ones a
            // query without granularity can have.
            let key = keys[i % keys.len()];
            let bucket = (i / keys.len()) as i32;
            let Counts {
                requests,
                status200,
                status300,
                status400,
                status429,
                status500,
            } = counts(&mut rng);
            let date = e.granularity.as_ref().map(|g| {
                let step = match g {
                    Granularity::Week => chrono::Duration::weeks(1),
                    Granularity::Month => chrono::Duration::days(30),
                    _ => chrono::Duration::days(1),
                };
                (e.start + step * bucket).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            });
            seq.serialize_element(&Row {
                client_id: key.client.0,
                client_name: key.client.1,
                organization_id: key.organization_id,
                user_id: key.user_id,
                template_uri: key.endpoint.0,
                http_method: key.endpoint.1,
                // Only the counters the query selected come back.
                status200: e.selects("Status200").then_some(status200),
                status300: e.selects("Status300").then_some(status300),
                status400: e.selects("Status400").then_some(status400),
                status500: e.selects("Status500").then_some(status500),
                status429: e.selects("Status429").then_some(status429),
                requests: e.selects("Requests").then_some(requests),
                date,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Complete<'a> {
    results: Rows<'a>,
    query_status: &'static str,
}

/// The body of a `Complete` answer, written straight to bytes (no intermediate values).
pub(crate) fn complete_body(execution: &Execution) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + execution.rows * 330);
    serde_json::to_writer(
        &mut body,
        &Complete {
            results: Rows { execution },
            query_status: "Complete",
        },
    )
    .expect("serializing to a Vec cannot fail");
    body
}

/// `{id, name}` of an OAuth client, as a job row names it.
#[derive(Serialize)]
struct ClientRef {
    id: &'static str,
    name: &'static str,
}

/// `{id}` of a user.
#[derive(Serialize)]
struct UserRef {
    id: &'static str,
}

/// A row of an aggregates query job (`OrganizationPublicApiUsage`): other field names than
/// a query's row, a calendar date, and the grouped dimensions only.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_client: Option<ClientRef>,
    /// Client jobs' rows only (`ClientPublicApiUsage`), grouped by organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_uri: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status200: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status300: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status400: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status429: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status500: Option<i64>,
}

/// Row `i` of a job, computed on its own (each row has its own seed), so that any page
/// can be served without generating the rows before it.
fn job_row(
    e: &Execution,
    keys: &[Key],
    client: Option<(&'static str, &'static str)>,
    i: usize,
) -> JobRow {
    let mut rng =
        fastrand::Rng::with_seed(crate::ids::mix(e.seed ^ (i as u64).wrapping_mul(0x9e37)));
    let key = keys[i % keys.len()];
    let bucket = (i / keys.len()) as u32;
    let Counts {
        requests,
        status200,
        status300,
        status400,
        status429,
        status500,
    } = counts(&mut rng);
    let date = e.granularity.as_ref().and_then(|g| {
        let day = e.start.date_naive();
        let date = match g {
            Granularity::Week => day.checked_add_days(chrono::Days::new(7 * u64::from(bucket))),
            Granularity::Month => day.checked_add_months(chrono::Months::new(bucket)),
            _ => day.checked_add_days(chrono::Days::new(u64::from(bucket))),
        };
        date.map(|d| d.format("%Y-%m-%d").to_string())
    });
    let grouped = |d: OrganizationGroupBy| e.group_by.contains(&d);
    // A client's job rows are all that client's: they name the organization instead.
    let (oauth_client, organization_id) = match client {
        Some(_) => (
            None,
            grouped(OrganizationGroupBy::OrganizationId).then_some(ORGANIZATION_ID),
        ),
        None => (
            grouped(OrganizationGroupBy::OAuthClientId).then_some(key.client),
            None,
        ),
    };
    JobRow {
        date,
        http_method: grouped(OrganizationGroupBy::HttpMethod).then_some(key.endpoint.1),
        oauth_client: oauth_client.map(|(id, name)| ClientRef { id, name }),
        organization_id,
        template_uri: grouped(OrganizationGroupBy::TemplateUri).then_some(key.endpoint.0),
        user: grouped(OrganizationGroupBy::UserId)
            .then_some(key.user_id)
            .filter(|u| !u.is_empty())
            .map(|id| UserRef { id }),
        request_count: e.selects("Requests").then_some(requests),
        status200: e.selects("Status200").then_some(status200),
        status300: e.selects("Status300").then_some(status300),
        status400: e.selects("Status400").then_some(status400),
        status429: e.selects("Status429").then_some(status429),
        status500: e.selects("Status500").then_some(status500),
    }
}

/// `(id, name)` of one of the org's OAuth clients; `None` for a client the org does not
/// have.
pub(crate) fn known_client(id: &str) -> Option<(&'static str, &'static str)> {
    OAUTH_CLIENTS.iter().copied().find(|(c, _)| *c == id)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobPage {
    entities: Vec<JobRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_uri: Option<String>,
    query_status: &'static str,
}

/// The body of a `Succeeded` job's page: rows `offset..offset + size` (of `e.rows`), and
/// `next_uri` when another page follows. `client` scopes every row to one OAuth client.
pub(crate) fn job_page_body(
    e: &Execution,
    client: Option<(&'static str, &'static str)>,
    offset: usize,
    size: usize,
    next_uri: Option<String>,
) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(e.seed);
    let keys = keys(e, &mut rng);
    let end = offset.saturating_add(size).min(e.rows);
    let entities = (offset.min(end)..end)
        .map(|i| job_row(e, &keys, client, i))
        .collect();
    serde_json::to_vec(&JobPage {
        entities,
        next_uri,
        query_status: "Succeeded",
    })
    .expect("serializing to a Vec cannot fail")
}
