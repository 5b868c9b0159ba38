//! The report written out: a table for people (with the 429s day by day as a sparkline
//! and the change against the window before), one CSV line per client and endpoint, JSON
//! and NDJSON as the clients' figures.

use std::io::{self, Write};

use crate::analysis::limits::{NearLimit, OrgLimit};
use crate::analysis::tally::{Change, ClientReport, Previous, Totals, share};
use crate::render::format::Format;
use crate::render::output::{thousands, write_table};
use crate::untrusted::CsvCells;

/// `+38 %`, `-5 %`, `new`, `gone`: a client's requests against the previous window.
pub fn requests_change(previous: &Previous) -> String {
    match (previous.change, previous.request_count_change) {
        (Change::Gone, _) => "gone".into(),
        (Change::Changed, Some(change)) => format!("{:+.0} %", change * 100.0),
        (Change::New, _) | (Change::Changed, None) => "new".into(),
    }
}

/// `+1.20 pp`: a client's 429 share against the previous window, in percentage points.
pub fn share_change(previous: &Previous) -> String {
    match previous.change {
        Change::Changed => format!("{:+.2} pp", previous.status429_share_change * 100.0),
        Change::New | Change::Gone => String::new(),
    }
}

/// A day-by-day line of `values`, at most `width` marks (days summed into buckets when
/// there are more), scaled to the largest: `▁▂▃▄▅▆▇█`, or `_.:-=+*#` with `ascii`. A day
/// without 429s is the lowest mark, any other at least the next.
pub fn sparkline(values: &[i64], width: usize, ascii: bool) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const ASCII: [char; 8] = ['_', '.', ':', '-', '=', '+', '*', '#'];
    let marks = if ascii { ASCII } else { BLOCKS };
    let per = values.len().div_ceil(width.max(1)).max(1);
    let buckets: Vec<i64> = values
        .chunks(per)
        .map(|c| c.iter().fold(0i64, |a, v| a.saturating_add((*v).max(0))))
        .collect();
    let max = buckets.iter().copied().max().unwrap_or(0);
    buckets
        .iter()
        .map(|&v| {
            if v <= 0 || max <= 0 {
                marks[0]
            } else {
                // 1 to 7, in i128 so that no count overflows the product.
                let level = 1 + (i128::from(v) * 6 / i128::from(max)) as usize;
                marks[level.min(7)]
            }
        })
        .collect()
}

/// The longest sparkline in a table: a month a mark a day, longer windows in buckets.
const SPARK_WIDTH: usize = 31;

/// How the report is drawn: its heading and whether the terminal takes `▁▂▃`.
pub struct Look<'a> {
    pub heading: &'a str,
    pub ascii: bool,
    /// How CSV cells are written.
    pub csv: CsvCells,
    /// The org's limits by hours spent near them.
    pub limits: &'a [OrgLimit],
}

/// `client.credentials.token.rate.per.minute (600)`, or `(value unknown)` when neither the
/// records nor the org's limits said it.
pub fn limit_name(key: &str, value: Option<i64>) -> String {
    match value {
        Some(v) => format!("{key} ({})", thousands(v)),
        None => format!("{key} (value unknown)"),
    }
}

/// ` as users A, B`: who an app was near a per-user limit as (the first three, then how
/// many more); nothing for a limit of client credentials.
pub fn as_users(users: &[String]) -> String {
    match users {
        [] => String::new(),
        [one] => format!(" as user {one}"),
        _ => {
            let shown: Vec<&str> = users.iter().take(3).map(String::as_str).collect();
            let more = match users.len().saturating_sub(3) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!(" as users {}{more}", shown.join(", "))
        }
    }
}

/// `near client.credentials.token.rate.per.minute (600): 14 hours, peak 02:00 UTC`; the
/// namespace is said when it is not `platform.api` (the rate limits'), where the same key
/// may stand with another value.
pub fn near_line(limit: &NearLimit) -> String {
    let name = limit_name(&limit.limit_key, limit.limit_value);
    let name = match limit.namespace.as_str() {
        "platform.api" | "" => name,
        other => format!("{name} in {other}"),
    };
    format!(
        "near {name}{}: {} hour{}, peak {}",
        as_users(&limit.users),
        thousands(i64::from(limit.near_limit_hours)),
        if limit.near_limit_hours == 1 { "" } else { "s" },
        limit.peak()
    )
}

/// Writes the report in `format`.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    look: &Look<'_>,
    clients: &[ClientReport],
) -> io::Result<()> {
    match format {
        Format::Table => write_report_table(out, look, clients),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, clients)?;
            writeln!(out)
        }
        Format::Ndjson => {
            for client in clients {
                serde_json::to_writer(&mut *out, client)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Csv => write_csv(out, look.csv, clients),
        // Drawn by the html module; refused here so that no caller gets half a page.
        Format::Html | Format::Openmetrics => Err(io::Error::other(
            "the HTML report is written by html::write",
        )),
    }
}

/// One line per (client, endpoint), the client's totals and trend repeated on each.
fn write_csv(out: &mut dyn Write, cells: CsvCells, clients: &[ClientReport]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "oauthClientId",
        "oauthClientName",
        "requestCount",
        "status429",
        "status429Share",
        "previousRequestCount",
        "previousStatus429",
        "change",
        "requestCountChange",
        "status429ShareChange",
        "daily429",
        "rank",
        "httpMethod",
        "templateUri",
        "endpointRequestCount",
        "endpointStatus429",
        "endpointNew",
        "limitKey",
        "limitValue",
        "nearLimitHours",
        "peakHourUtc",
    ])?;
    for c in clients {
        let previous = c.previous.as_ref();
        let client = [
            c.oauth_client_id.clone(),
            c.oauth_client_name.clone(),
            c.request_count.to_string(),
            c.status429.to_string(),
            format!("{:.6}", c.status429_share),
            previous
                .map(|p| p.request_count.to_string())
                .unwrap_or_default(),
            previous
                .map(|p| p.status429.to_string())
                .unwrap_or_default(),
            previous
                .map(|p| format!("{:?}", p.change).to_lowercase())
                .unwrap_or_default(),
            previous
                .and_then(|p| p.request_count_change)
                .map(|x| format!("{x:.6}"))
                .unwrap_or_default(),
            previous
                .map(|p| format!("{:.6}", p.status429_share_change))
                .unwrap_or_default(),
            c.daily429
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ];
        // The limit it spent the most hours near, on each of its lines.
        let top = c.limits.first();
        let limit = [
            top.map(|l| l.limit_key.clone()).unwrap_or_default(),
            top.and_then(|l| l.limit_value)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            top.map(|l| l.near_limit_hours.to_string())
                .unwrap_or_default(),
            top.map(|l| l.peak_hour_utc.to_string()).unwrap_or_default(),
        ];
        for (rank, e) in c.top_endpoints.iter().enumerate() {
            let mut record = client.to_vec();
            record.extend([
                (rank + 1).to_string(),
                e.http_method.clone(),
                e.template_uri.clone(),
                e.request_count.to_string(),
                e.status429.to_string(),
                e.new.to_string(),
            ]);
            record.extend(limit.iter().cloned());
            writer.write_record(cells.record(&record))?;
        }
        if c.top_endpoints.is_empty() {
            let mut record = client.to_vec();
            record.extend(std::iter::repeat_n(String::new(), 6));
            record.extend(limit.iter().cloned());
            writer.write_record(cells.record(&record))?;
        }
    }
    writer.flush()
}

fn write_report_table(
    out: &mut dyn Write,
    look: &Look<'_>,
    clients: &[ClientReport],
) -> io::Result<()> {
    let Totals {
        calling,
        requests,
        limited,
    } = Totals::of(clients);
    writeln!(out, "{}", look.heading)?;
    writeln!(
        out,
        "{calling} OAuth clients, {} requests, {} answered 429 ({:.2} %)",
        thousands(requests),
        thousands(limited),
        share(limited, requests) * 100.0
    )?;
    if !look.limits.is_empty() {
        let named: Vec<String> = look
            .limits
            .iter()
            .take(3)
            .map(|l| {
                // The namespace is said where the same key stands in two.
                let twice = look
                    .limits
                    .iter()
                    .filter(|o| o.limit_key == l.limit_key)
                    .count()
                    > 1;
                let name = limit_name(&l.limit_key, l.limit_value);
                let name = if twice {
                    format!("{name} in {}", l.namespace)
                } else {
                    name
                };
                let others = match l.other_entities {
                    0 => String::new(),
                    1 => " and 1 other entity".to_string(),
                    n => format!(" and {n} other entities"),
                };
                // The users an app was near a per-user limit as, with their apps.
                let users = match l.users {
                    0 => String::new(),
                    1 => " (as 1 user)".to_string(),
                    n => format!(" (as {n} users)"),
                };
                format!(
                    "{name} {} hour{} by {} client{}{users}{others}",
                    thousands(i64::from(l.near_limit_hours)),
                    if l.near_limit_hours == 1 { "" } else { "s" },
                    l.clients,
                    if l.clients == 1 { "" } else { "s" }
                )
            })
            .collect();
        let more = match look.limits.len().saturating_sub(named.len()) {
            0 => String::new(),
            1 => "; and 1 more limit".to_string(),
            n => format!("; and {n} more limits"),
        };
        writeln!(out, "Near a limit: {}{more}", named.join("; "))?;
    }
    writeln!(out)?;
    let mut rows = Vec::new();
    for c in clients {
        let previous = c.previous.as_ref();
        rows.push(vec![
            format!("{} ({})", c.oauth_client_name, c.oauth_client_id),
            thousands(c.request_count),
            thousands(c.status429),
            format!("{:.2}", c.status429_share * 100.0),
            if c.daily429.is_empty() {
                String::new()
            } else {
                sparkline(&c.daily429, SPARK_WIDTH, look.ascii)
            },
            previous.map(requests_change).unwrap_or_default(),
            previous.map(share_change).unwrap_or_default(),
        ]);
        for limit in &c.limits {
            let mut row = vec![format!("  {}", near_line(limit))];
            row.resize(7, String::new());
            rows.push(row);
        }
        for e in &c.top_endpoints {
            rows.push(vec![
                format!(
                    "  {:<6} {}{}",
                    e.http_method,
                    e.template_uri,
                    if e.new { "  (new)" } else { "" }
                ),
                thousands(e.request_count),
                thousands(e.status429),
                format!("{:.2}", share(e.status429, e.request_count) * 100.0),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    write_table(
        out,
        &[
            "OAuth client (id) / top endpoints by 429s",
            "requests",
            "429s",
            "429 %",
            "429s by day",
            "requests vs before",
            "429 % vs before",
        ],
        &rows,
        |c| {
            matches!(
                c,
                "requests" | "429s" | "429 %" | "requests vs before" | "429 % vs before"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_says_its_value_or_that_it_is_unknown_and_its_users() {
        assert_eq!(
            limit_name("token.rate.per.minute", Some(3000)),
            "token.rate.per.minute (3,000)"
        );
        assert_eq!(
            limit_name("token.rate.per.minute", None),
            "token.rate.per.minute (value unknown)"
        );
        let users = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("u{i}")).collect() };
        assert_eq!(as_users(&users(0)), "");
        assert_eq!(as_users(&users(1)), " as user u1");
        assert_eq!(as_users(&users(3)), " as users u1, u2, u3");
        assert_eq!(as_users(&users(5)), " as users u1, u2, u3 and 2 more");
    }

    #[test]
    fn a_sparkline_scales_to_the_largest_day_and_buckets_long_windows() {
        assert_eq!(sparkline(&[0, 1, 7, 14], 31, false), "▁▂▅█");
        assert_eq!(sparkline(&[0, 1, 7, 14], 31, true), "_.=#");
        assert_eq!(sparkline(&[0, 0], 31, false), "▁▁");
        assert_eq!(sparkline(&[i64::MAX, i64::MAX, 1], 31, false), "██▂");
        let year = vec![3; 365];
        assert_eq!(sparkline(&year, 31, false).chars().count(), 31);
        assert_eq!(sparkline(&[], 31, false), "");
    }

    #[test]
    fn the_change_is_said_in_percent_and_points() {
        let previous = |change, requests: Option<f64>, share: f64| Previous {
            request_count: 100,
            status429: 5,
            status429_share: 0.05,
            change,
            request_count_change: requests,
            status429_share_change: share,
        };
        let changed = previous(Change::Changed, Some(0.39), 10.0 / 139.0 - 0.05);
        assert_eq!(requests_change(&changed), "+39 %");
        assert_eq!(share_change(&changed), "+2.19 pp");
        assert_eq!(requests_change(&previous(Change::New, None, 0.0)), "new");
        assert_eq!(
            requests_change(&previous(Change::Gone, Some(-1.0), 0.0)),
            "gone"
        );
        assert_eq!(share_change(&previous(Change::Gone, Some(-1.0), 0.0)), "");
    }
}
