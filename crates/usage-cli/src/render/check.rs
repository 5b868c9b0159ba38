//! `check`'s output: one line per breach and per rule it could not judge, the worst
//! breach first and the allocation's before all (`--format json`, `ndjson` or `csv` for
//! alert pipelines).

use std::io::Write;

use usage_ext::DayWindow;

use crate::analysis::allowance::ClientPart;
use crate::analysis::rules;
use crate::notify::Alert;
use crate::render::format::Format;
use crate::untrusted::{self, CsvCells};

/// A breach of the allocation rule: its line, and its fields for JSON and CSV.
pub struct AllocationBreach {
    pub line: String,
    pub json: serde_json::Value,
    pub top: Option<ClientPart>,
    pub value: f64,
    pub limit: f64,
}

/// The run's alert, when it has something to say: the allocation's breach, each breach with
/// the `evidence` command that makes its case, and each rule it could not judge. `None`
/// when every rule passed.
pub fn alert(
    whose: String,
    days: Option<DayWindow>,
    allocation: Option<&AllocationBreach>,
    breaches: &[rules::Breach],
    not_judged: &[rules::NotJudged],
) -> Option<Alert> {
    let count = breaches.len() + usize::from(allocation.is_some());
    if count == 0 && not_judged.is_empty() {
        return None;
    }
    let window = days.map(|d| d.to_string());
    let mut title = format!(
        "genesys-usage check: {count} breach{}",
        if count == 1 { "" } else { "es" }
    );
    if !not_judged.is_empty() {
        title.push_str(&format!(", {} rule(s) not judged", not_judged.len()));
    }
    if let Some(window) = &window {
        title.push_str(&format!(", {window}"));
    }
    title.push_str(&format!(" ({whose})"));
    let mut lines: Vec<String> = allocation.iter().map(|a| a.line.clone()).collect();
    for b in breaches {
        let mut line = b.line();
        if let Some(window) = &window {
            line.push_str(&format!(
                "; its case: genesys-usage evidence --client {} --interval {window}",
                b.oauth_client_id
            ));
        }
        lines.push(line);
    }
    lines.extend(not_judged.iter().map(rules::NotJudged::line));
    let fields = serde_json::json!({
        "command": "check",
        "org": whose,
        "window": window,
        "allocation": allocation.map(|a| a.json.clone()),
        "breaches": breaches,
        "notJudged": not_judged,
    });
    Some(Alert {
        title,
        lines,
        fields,
    })
}

/// The breaches, the allocation's first, in the session's format.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    csv: CsvCells,
    allocation: Option<&AllocationBreach>,
    breaches: &[rules::Breach],
    not_judged: &[rules::NotJudged],
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let mut all: Vec<serde_json::Value> =
                allocation.iter().map(|a| a.json.clone()).collect();
            for breach in breaches {
                all.push(serde_json::to_value(breach).map_err(std::io::Error::other)?);
            }
            for n in not_judged {
                all.push(serde_json::to_value(n).map_err(std::io::Error::other)?);
            }
            serde_json::to_writer_pretty(&mut *out, &all).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            if let Some(a) = &allocation {
                serde_json::to_writer(&mut *out, &a.json).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
            for breach in breaches {
                serde_json::to_writer(&mut *out, breach).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
            for n in not_judged {
                serde_json::to_writer(&mut *out, n).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer
                .write_record([
                    "oauthClientId",
                    "oauthClientName",
                    "httpMethod",
                    "templateUri",
                    "limit",
                    "value",
                    "limitValue",
                    "notJudged",
                ])
                .map_err(std::io::Error::other)?;
            if let Some(a) = &allocation {
                let (id, name) = a.top.as_ref().map_or(("", ""), |c| {
                    (c.oauth_client_id.as_str(), c.oauth_client_name.as_str())
                });
                writer
                    .write_record(csv.record([
                        id,
                        name,
                        "",
                        "",
                        "maxAllocationShare",
                        &a.value.to_string(),
                        &a.limit.to_string(),
                        "",
                    ]))
                    .map_err(std::io::Error::other)?;
            }
            for b in breaches {
                writer
                    .write_record(csv.record([
                        b.oauth_client_id.as_str(),
                        b.oauth_client_name.as_str(),
                        b.http_method.as_deref().unwrap_or_default(),
                        b.template_uri.as_deref().unwrap_or_default(),
                        b.rule.limit.name(),
                        &b.value.to_string(),
                        &b.limit.to_string(),
                        "",
                    ]))
                    .map_err(std::io::Error::other)?;
            }
            for n in not_judged {
                writer
                    .write_record(csv.record([
                        "",
                        "",
                        "",
                        "",
                        n.rule.limit.name(),
                        "",
                        "",
                        n.not_judged.as_str(),
                    ]))
                    .map_err(std::io::Error::other)?;
            }
            writer.flush()?;
        }
        // Refused before anything is sent: `--format html` is the report's.
        Format::Table | Format::Html | Format::Openmetrics => {
            if let Some(a) = &allocation {
                writeln!(out, "{}", untrusted::terminal(&a.line))?;
            }
            for breach in breaches {
                writeln!(out, "{}", untrusted::terminal(&breach.line()))?;
            }
            for n in not_judged {
                writeln!(out, "{}", untrusted::terminal(&n.line()))?;
            }
        }
    }
    out.flush()
}
