//! Rows out: a table for people, CSV and NDJSON streamed row by row for data tools, or one
//! JSON array. CSV columns are the API's field names (a job row's `oauthClient` becomes
//! `oauthClientId` and `oauthClientName`, its `user` `userId`), the same set for every row, so
//! a file loads straight into DuckDB, Athena or a spreadsheet. JSON keeps each row in the
//! API's own shape.

use std::borrow::Cow;

use crate::untrusted::{self, CsvCells};
use std::io::{self, Write};

use serde::Serialize;
use usage_ext::models::{
    ApiUsageRow, ClientPublicApiUsage, HttpMethod, OrganizationPublicApiUsage,
};

use crate::lake::schema::{self, Column};
use crate::render::format::Format;

/// A row the tool can print.
pub trait Record: Serialize {
    /// The CSV header and table columns.
    fn columns() -> &'static [&'static str];
    /// The row's cells, in `columns()` order; `""` where the row has no value.
    fn cells(&self) -> Vec<String>;
    /// Columns a table right-aligns (numbers).
    fn numeric(column: &str) -> bool {
        column.starts_with("status") || column.starts_with("request")
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn number(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

impl Record for ApiUsageRow {
    fn columns() -> &'static [&'static str] {
        &[
            "date",
            "clientId",
            "clientName",
            "organizationId",
            "userId",
            "httpMethod",
            "templateUri",
            "requests",
            "status200",
            "status300",
            "status400",
            "status429",
            "status500",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.date
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default(),
            text(&self.client_id),
            text(&self.client_name),
            text(&self.organization_id),
            text(&self.user_id),
            text(&self.http_method),
            text(&self.template_uri),
            number(self.requests),
            number(self.status200),
            number(self.status300),
            number(self.status400),
            number(self.status429),
            number(self.status500),
        ]
    }
}

/// The endpoint and counter cells both job rows end with.
fn job_counts(
    method: Option<&HttpMethod>,
    template_uri: &Option<String>,
    counts: [Option<i64>; 6],
) -> impl Iterator<Item = String> {
    [
        method.map(|m| m.as_str().to_string()).unwrap_or_default(),
        text(template_uri),
    ]
    .into_iter()
    .chain(counts.map(number))
}

impl Record for OrganizationPublicApiUsage {
    fn columns() -> &'static [&'static str] {
        &schema::EXPORT
    }

    fn cells(&self) -> Vec<String> {
        let date = self.date.map(|d| d.to_string()).unwrap_or_default();
        let columns = Column::ALL.iter().map(|c| match c.is_count() {
            true => number(c.count_of(self)),
            false => c.text_of(self).unwrap_or_default().to_string(),
        });
        std::iter::once(date).chain(columns).collect()
    }
}

impl Record for ClientPublicApiUsage {
    fn columns() -> &'static [&'static str] {
        &[
            "date",
            "organizationId",
            "platform",
            "httpMethod",
            "templateUri",
            "requestCount",
            "status200",
            "status300",
            "status400",
            "status429",
            "status500",
        ]
    }

    fn cells(&self) -> Vec<String> {
        let mut cells = vec![
            self.date.map(|d| d.to_string()).unwrap_or_default(),
            text(&self.organization_id),
            text(&self.platform),
        ];
        cells.extend(job_counts(
            self.http_method.as_ref(),
            &self.template_uri,
            [
                self.request_count,
                self.status200,
                self.status300,
                self.status400,
                self.status429,
                self.status500,
            ],
        ));
        cells
    }
}

enum State {
    Csv(Box<csv::Writer<Box<dyn Write>>>, CsvCells),
    Ndjson(Box<dyn Write>),
    Json {
        out: Box<dyn Write>,
        first: bool,
    },
    /// A table needs every row for its column widths.
    Table {
        out: Box<dyn Write>,
        rows: Vec<Vec<String>>,
    },
}

/// Where rows go, in one format.
pub struct Sink<R: Record> {
    state: State,
    rows: u64,
    _row: std::marker::PhantomData<fn(&R)>,
}

impl<R: Record> Sink<R> {
    pub fn new(format: Format, cells: CsvCells, out: Box<dyn Write>) -> io::Result<Self> {
        let state = match format {
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(R::columns())?;
                State::Csv(Box::new(writer), cells)
            }
            Format::Ndjson => State::Ndjson(out),
            Format::Json => State::Json { out, first: true },
            Format::Table => State::Table {
                out,
                rows: Vec::new(),
            },
            // Refused before anything is sent for every command but the one that draws them.
            Format::Html | Format::Openmetrics => {
                return Err(io::Error::other(
                    "--format html is for `report`, openmetrics for `jobs`",
                ));
            }
        };
        Ok(Self {
            state,
            rows: 0,
            _row: std::marker::PhantomData,
        })
    }

    pub fn row(&mut self, row: &R) -> io::Result<()> {
        self.rows += 1;
        match &mut self.state {
            State::Csv(writer, cells) => writer.write_record(cells.record(&row.cells()))?,
            State::Ndjson(out) => {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
            State::Json { out, first } => {
                out.write_all(if *first { b"[\n" } else { b",\n" })?;
                *first = false;
                serde_json::to_writer(&mut *out, row)?;
            }
            State::Table { rows, .. } => rows.push(row.cells()),
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn count(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> io::Result<()> {
        match self.state {
            State::Csv(mut writer, _) => writer.flush(),
            State::Ndjson(mut out) => out.flush(),
            State::Json { mut out, first } => {
                out.write_all(if first { b"[]\n" } else { b"\n]\n" })?;
                out.flush()
            }
            State::Table { mut out, rows } => {
                write_table(&mut out, R::columns(), &rows, R::numeric)?;
                out.flush()
            }
        }
    }
}

/// Aligned columns; a column empty in every row is left out (the dimensions a query did not
/// group by come back as `""`). Cells hold the org's names: their control characters are
/// shown escaped.
pub fn write_table(
    out: &mut dyn Write,
    columns: &[&str],
    rows: &[Vec<String>],
    numeric: fn(&str) -> bool,
) -> io::Result<()> {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| untrusted::terminal(c)).collect())
        .collect();
    let shown: Vec<usize> = (0..columns.len())
        .filter(|&c| rows.iter().any(|r| !r[c].is_empty()))
        .collect();
    if rows.is_empty() {
        return writeln!(out, "(no rows)");
    }
    let width = |c: usize| {
        rows.iter()
            .map(|r| r[c].chars().count())
            .chain([columns[c].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = shown.iter().map(|&c| width(c)).collect();
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for ((cell, &c), &w) in cells.iter().zip(&shown).zip(&widths) {
            if !text.is_empty() {
                text.push_str("  ");
            }
            if numeric(columns[c]) {
                text.push_str(&format!("{cell:>w$}"));
            } else {
                text.push_str(&format!("{cell:<w$}"));
            }
        }
        text.trim_end().to_string()
    };
    writeln!(out, "{}", line(shown.iter().map(|&c| columns[c]).collect()))?;
    for row in rows {
        writeln!(
            out,
            "{}",
            line(shown.iter().map(|&c| row[c].as_ref()).collect())
        )?;
    }
    Ok(())
}

/// `1234567` as `1,234,567`.
/// A projected number of requests, rounded to a whole one, as `thousands` writes it.
pub fn whole(n: f64) -> String {
    thousands(n.round() as i64)
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut text = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(d);
    }
    if n < 0 { format!("-{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }
}
