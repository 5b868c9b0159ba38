//! An answer's cells written in each API's shape: the old queries' `ApiUsageRow` (every
//! dimension present, `""` where not grouped, a date-time bucket), the jobs' rows (only the
//! grouped dimensions, a calendar date, other field names) and simple search's.

use serde::Serialize;

use crate::data::{Cell, Template};
use crate::state::Execution;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    client_id: &'static str,
    client_name: &'static str,
    organization_id: &'static str,
    user_id: &'static str,
    template_uri: OrEmpty,
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

impl Row {
    fn of(e: &Execution, cell: &Cell) -> Self {
        let k = &cell.key;
        let c = &cell.counts;
        let (client_id, client_name) = k.client().unwrap_or(("", ""));
        Row {
            client_id,
            client_name,
            organization_id: k.organization().unwrap_or(""),
            user_id: k.user().unwrap_or(""),
            template_uri: OrEmpty(k.template()),
            http_method: k.method().unwrap_or(""),
            // Only the counters the query selected come back.
            status200: e.selects("Status200").then_some(c.status200),
            status300: e.selects("Status300").then_some(c.status300),
            status400: e.selects("Status400").then_some(c.status400),
            status500: e.selects("Status500").then_some(c.status500),
            status429: e.selects("Status429").then_some(c.status429),
            requests: e.selects("Requests").then_some(c.requests),
            // The start of the bucket, at midnight UTC.
            date: cell
                .date
                .map(|d| format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))),
        }
    }
}

/// A templateUri, `""` where not grouped, as the service answers.
struct OrEmpty(Option<Template>);

impl Serialize for OrEmpty {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(t) => serializer.collect_str(&t),
            None => serializer.serialize_str(""),
        }
    }
}

/// Cells written as a JSON array, each in the shape `shape` gives it, without building the
/// rows first.
struct Rows<'a, R> {
    execution: &'a Execution,
    cells: &'a [Cell],
    shape: fn(&Execution, &Cell) -> R,
}

impl<R: Serialize> Serialize for Rows<'_, R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.cells.iter().map(|c| (self.shape)(self.execution, c)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Complete<'a> {
    results: Rows<'a, Row>,
    query_status: &'static str,
}

/// The body of a `Complete` answer, written straight to bytes (no intermediate values).
pub(crate) fn complete_body(execution: &Execution) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + execution.rows.len() * 330);
    serde_json::to_writer(
        &mut body,
        &Complete {
            results: Rows {
                execution,
                cells: &execution.rows,
                shape: Row::of,
            },
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

/// A row of an aggregates query job (`OrganizationPublicApiUsage`, or a client job's
/// `ClientPublicApiUsage` with `organizationId`): other field names than a query's row, a
/// calendar date, and the grouped dimensions only.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_client: Option<ClientRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_uri: Option<Template>,
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

impl JobRow {
    fn of(e: &Execution, cell: &Cell) -> Self {
        let k = &cell.key;
        let c = &cell.counts;
        JobRow {
            date: cell.date.map(|d| d.format("%Y-%m-%d").to_string()),
            platform: k.platform(),
            http_method: k.method(),
            oauth_client: k.client().map(|(id, name)| ClientRef { id, name }),
            organization_id: k.organization(),
            template_uri: k.template(),
            // Requests made without a user (client credentials) carry none.
            user: k.user().filter(|u| !u.is_empty()).map(|id| UserRef { id }),
            request_count: e.selects("Requests").then_some(c.requests),
            status200: e.selects("Status200").then_some(c.status200),
            status300: e.selects("Status300").then_some(c.status300),
            status400: e.selects("Status400").then_some(c.status400),
            status429: e.selects("Status429").then_some(c.status429),
            status500: e.selects("Status500").then_some(c.status500),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobPage<'a> {
    entities: Rows<'a, JobRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_uri: Option<String>,
    query_status: &'static str,
}

/// The rows `offset..offset + size` of an answer (fewer at its end, none past it).
fn page(cells: &[Cell], offset: usize, size: usize) -> &[Cell] {
    let end = offset.saturating_add(size).min(cells.len());
    &cells[offset.min(end)..end]
}

/// The body of a `Succeeded` job's page: rows `offset..offset + size`, and `next_uri` when
/// another page follows.
pub(crate) fn job_page_body(
    e: &Execution,
    offset: usize,
    size: usize,
    next_uri: Option<String>,
) -> Vec<u8> {
    serde_json::to_vec(&JobPage {
        entities: Rows {
            execution: e,
            cells: page(&e.rows, offset, size),
            shape: JobRow::of,
        },
        next_uri,
        query_status: "Succeeded",
    })
    .expect("serializing to a Vec cannot fail")
}

#[derive(Serialize)]
struct Cursors {
    after: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SimplePage<'a> {
    results: Rows<'a, Row>,
    query_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursors: Option<Cursors>,
}

/// The body of a completed simple search's page: `ApiUsageQueryResult` with `cursors.after`
/// when another page follows.
pub(crate) fn simple_search_page_body(
    e: &Execution,
    offset: usize,
    size: usize,
    after: Option<String>,
) -> Vec<u8> {
    serde_json::to_vec(&SimplePage {
        results: Rows {
            execution: e,
            cells: page(&e.rows, offset, size),
            shape: Row::of,
        },
        query_status: "Complete",
        cursors: after.map(|after| Cursors { after }),
    })
    .expect("serializing to a Vec cannot fail")
}
