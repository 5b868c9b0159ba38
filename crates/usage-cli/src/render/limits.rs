//! The limits family as the tool writes it: the org's limits beside their defaults, its
//! requests to raise one, and the operational events. The table for people, CSV and NDJSON
//! as flat rows, JSON as one object. Names and texts from the org are data (`untrusted`).

use std::io::{self, Write};

use serde::Serialize;
use usage_ext::OrganizationLimit;
use usage_ext::models::{LimitChangeRequestDetails, OperationalEvent};

use crate::render::format::Format;
use crate::render::output::{Record, write_table};
use crate::untrusted::CsvCells;

/// An instant as the tool writes it (`2026-11-02T09:00:00.000Z`), or `""`.
fn instant(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn number(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn flag(b: Option<bool>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

/// A change request's value (the API's `double`), whole when it is.
fn value(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// One line of `limits`: a limit or a change request, in the columns both share.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LimitLine {
    /// `limit` or `changeRequest`.
    pub kind: &'static str,
    pub key: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raised: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configurable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trackable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_created: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_completed: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_case_url: Option<String>,
}

impl LimitLine {
    pub fn limit(namespace: &str, limit: &OrganizationLimit) -> Self {
        Self {
            kind: "limit",
            key: limit.key.clone(),
            namespace: namespace.to_string(),
            value: limit.value,
            default_value: limit.default,
            raised: Some(limit.raised()),
            configurable: limit.configurable,
            trackable: limit.trackable,
            description: limit.description.clone(),
            request_id: None,
            requested_value: None,
            current_value: None,
            status: None,
            date_created: None,
            date_completed: None,
            support_case_url: None,
        }
    }

    pub fn change_request(request: &LimitChangeRequestDetails) -> Self {
        Self {
            kind: "changeRequest",
            key: request.key.clone(),
            namespace: request.namespace.as_str().to_string(),
            value: None,
            default_value: None,
            raised: None,
            configurable: None,
            trackable: None,
            description: Some(request.description.clone()),
            request_id: request.id.clone(),
            requested_value: Some(request.requested_value),
            current_value: request.current_value,
            status: request.status.as_ref().map(|s| s.as_str().to_string()),
            date_created: request.date_created,
            date_completed: request.date_completed,
            support_case_url: Some(request.support_case_url.clone()),
        }
    }
}

impl Record for LimitLine {
    fn columns() -> &'static [&'static str] {
        &[
            "kind",
            "key",
            "namespace",
            "value",
            "defaultValue",
            "raised",
            "configurable",
            "trackable",
            "description",
            "requestId",
            "requestedValue",
            "currentValue",
            "status",
            "dateCreated",
            "dateCompleted",
            "supportCaseUrl",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.kind.to_string(),
            self.key.clone(),
            self.namespace.clone(),
            number(self.value),
            number(self.default_value),
            flag(self.raised),
            flag(self.configurable),
            flag(self.trackable),
            self.description.clone().unwrap_or_default(),
            self.request_id.clone().unwrap_or_default(),
            value(self.requested_value),
            value(self.current_value),
            self.status.clone().unwrap_or_default(),
            instant(self.date_created),
            instant(self.date_completed),
            self.support_case_url.clone().unwrap_or_default(),
        ]
    }

    fn numeric(column: &str) -> bool {
        column.ends_with("Value") || column == "value"
    }
}

/// What `limits` found: the namespace's limits and the change requests, and what it could
/// not see (a permission the login lacks), said in the output's own words.
pub struct LimitsView {
    pub namespace: String,
    pub limits: Vec<OrganizationLimit>,
    /// `None`: the login may not read them.
    pub change_requests: Option<Vec<LimitChangeRequestDetails>>,
}

impl LimitsView {
    fn lines(&self) -> Vec<LimitLine> {
        let limits = self
            .limits
            .iter()
            .map(|l| LimitLine::limit(&self.namespace, l));
        let requests = self
            .change_requests
            .iter()
            .flatten()
            .map(LimitLine::change_request);
        limits.chain(requests).collect()
    }

    /// Writes the view in `format`.
    pub fn write(&self, format: Format, cells: CsvCells, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Table => self.table(out),
            Format::Json => {
                let lines = self.lines();
                let (limits, requests): (Vec<_>, Vec<_>) =
                    lines.into_iter().partition(|l| l.kind == "limit");
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Whole<'a> {
                    namespace: &'a str,
                    limits: Vec<LimitLine>,
                    /// `null` when the login may not read them.
                    change_requests: Option<Vec<LimitLine>>,
                }
                let whole = Whole {
                    namespace: &self.namespace,
                    limits,
                    change_requests: self.change_requests.as_ref().map(|_| requests),
                };
                serde_json::to_writer_pretty(&mut *out, &whole)?;
                writeln!(out)
            }
            Format::Ndjson => {
                for line in self.lines() {
                    serde_json::to_writer(&mut *out, &line)?;
                    writeln!(out)?;
                }
                Ok(())
            }
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(LimitLine::columns())?;
                for line in self.lines() {
                    writer.write_record(cells.record(&line.cells()))?;
                }
                writer.flush()
            }
            Format::Html | Format::Openmetrics => Err(io::Error::other(
                "limits writes the table, csv, json or ndjson",
            )),
        }
    }

    fn table(&self, out: &mut dyn Write) -> io::Result<()> {
        let raised = self.limits.iter().filter(|l| l.raised()).count();
        writeln!(
            out,
            "Limits of {} ({} limits, {raised} raised above the default)",
            crate::untrusted::terminal(&self.namespace),
            self.limits.len()
        )?;
        writeln!(out)?;
        let rows: Vec<Vec<String>> = self
            .limits
            .iter()
            .map(|l| {
                vec![
                    l.key.clone(),
                    number(l.value),
                    number(l.default),
                    if l.raised() {
                        "raised".into()
                    } else {
                        String::new()
                    },
                    match (l.trackable, l.configurable) {
                        (Some(true), Some(true)) => "trackable, configurable".into(),
                        (Some(true), _) => "trackable".into(),
                        (_, Some(true)) => "configurable".into(),
                        _ => String::new(),
                    },
                    l.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        write_table(
            out,
            &["limit", "value", "default", "", "", "description"],
            &rows,
            |c| c == "value" || c == "default",
        )?;
        writeln!(out)?;
        match &self.change_requests {
            None => writeln!(
                out,
                "Change requests: not shown (the login lacks limits:organization:view)"
            ),
            Some(requests) => {
                writeln!(out, "Change requests of the last year ({})", requests.len())?;
                if requests.is_empty() {
                    return Ok(());
                }
                writeln!(out)?;
                let rows: Vec<Vec<String>> = requests
                    .iter()
                    .map(|r| {
                        let line = LimitLine::change_request(r);
                        vec![
                            line.key,
                            value(line.requested_value),
                            value(line.current_value),
                            line.status.unwrap_or_default(),
                            instant(line.date_created)
                                .get(..10)
                                .unwrap_or_default()
                                .to_string(),
                            instant(line.date_completed)
                                .get(..10)
                                .unwrap_or_default()
                                .to_string(),
                            line.support_case_url.unwrap_or_default(),
                        ]
                    })
                    .collect();
                write_table(
                    out,
                    &[
                        "limit",
                        "requested",
                        "value now",
                        "status",
                        "created",
                        "completed",
                        "support case",
                    ],
                    &rows,
                    |c| c == "requested" || c == "value now",
                )
            }
        }
    }
}

/// The alert `watch --notify` sends for an event: the client, what it came near and the
/// limit's value, its hours with events today, and the `evidence` command that makes its
/// case.
pub fn event_alert(e: &NamedEvent, hours_today: usize, command: &str) -> crate::notify::Alert {
    let event = &e.event;
    let id = event.entity_id.clone().unwrap_or_default();
    let who = match &event.entity_name {
        Some(name) => format!("{name} ({id})"),
        None => id.clone(),
    };
    let what = e
        .event_definition_name
        .clone()
        .or_else(|| event.event_definition.as_ref().and_then(|d| d.id.clone()))
        .unwrap_or_else(|| "an operational event".into());
    let at = event.date_created.map_or(String::new(), |at| {
        format!(" at {}", at.format("%H:%M UTC"))
    });
    let value = event
        .current_value
        .as_deref()
        .map_or(String::new(), |v| format!(", the limit's value {v}"));
    crate::notify::Alert {
        title: format!("genesys-usage {command}: {who}: {what}"),
        lines: vec![
            format!("{what}{at}{value}"),
            format!(
                "{hours_today} hour{} with events today (UTC)",
                if hours_today == 1 { "" } else { "s" }
            ),
            format!("its case: genesys-usage evidence --client {id} --since 7d"),
        ],
        fields: serde_json::json!({
            "command": command,
            "event": e,
            "hoursToday": hours_today,
        }),
    }
}

/// An operational event with its definition's name (from the definitions, asked once).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedEvent {
    #[serde(flatten)]
    pub event: OperationalEvent,
    pub event_definition_name: Option<String>,
}

impl Record for NamedEvent {
    fn columns() -> &'static [&'static str] {
        &[
            "dateCreated",
            "event",
            "eventDefinitionId",
            "entityId",
            "entityName",
            "previousValue",
            "currentValue",
            "errorCode",
        ]
    }

    fn cells(&self) -> Vec<String> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let event = &self.event;
        vec![
            instant(event.date_created),
            text(&self.event_definition_name),
            event
                .event_definition
                .as_ref()
                .and_then(|d| d.id.clone())
                .unwrap_or_default(),
            text(&event.entity_id),
            text(&event.entity_name),
            text(&event.previous_value),
            text(&event.current_value),
            text(&event.error_code),
        ]
    }

    fn numeric(column: &str) -> bool {
        column.ends_with("Value")
    }
}
