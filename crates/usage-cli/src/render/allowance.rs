//! The billing period's figures written out: a summary and a table per client for people,
//! one CSV line per client (the period's figures on each), JSON whole, NDJSON a line per
//! client, and the HTML page.

use crate::analysis::allowance::Report;
use crate::render::format::Format;
use crate::render::html;
use crate::render::output::{thousands, whole, write_table};
use crate::untrusted;

/// A projected number of requests in CSV: rounded as the table and the page round it (half
/// away from zero, where `{:.0}` rounds half to even).
fn rounded(n: f64) -> String {
    (n.round() as i64).to_string()
}

/// The report in `format`.
pub fn write(
    out: &mut dyn std::io::Write,
    format: Format,
    csv: untrusted::CsvCells,
    report: &Report,
    source: &str,
) -> std::io::Result<()> {
    match format {
        Format::Json => json(out, report)?,
        Format::Ndjson => ndjson(out, report)?,
        Format::Csv => csv_lines(out, csv, report)?,
        Format::Html => html::allowance(out, report, source)?,
        Format::Table | Format::Openmetrics => table(out, report)?,
    }
    out.flush()
}

fn json(out: &mut dyn std::io::Write, report: &Report) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    writeln!(out)?;
    Ok(())
}

/// The period's figures on every line, with the client's.
fn ndjson(out: &mut dyn std::io::Write, report: &Report) -> std::io::Result<()> {
    for client in &report.clients {
        let mut line = serde_json::to_value(report).map_err(std::io::Error::other)?;
        if let Some(object) = line.as_object_mut() {
            object.remove("clients");
            object.remove("daily");
            object.insert(
                "client".into(),
                serde_json::to_value(client).map_err(std::io::Error::other)?,
            );
        }
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
        writeln!(out)?;
    }
    Ok(())
}

/// One line per client, the period's figures repeated on each.
fn csv_lines(
    out: &mut dyn std::io::Write,
    csv: untrusted::CsvCells,
    report: &Report,
) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(&mut *out);
    writer
        .write_record([
            "periodFirstDay",
            "periodLastDay",
            "asOf",
            "allocation",
            "requestsToDate",
            "projected",
            "projectedLow",
            "projectedHigh",
            "runRate",
            "oauthClientId",
            "oauthClientName",
            "clientRequestsToDate",
            "clientProjected",
            "clientShareOfProjection",
            "clientPreviousRequests",
            "clientChange",
        ])
        .map_err(std::io::Error::other)?;
    for c in &report.clients {
        let record = [
            report.period_first_day.to_string(),
            report.period_last_day.to_string(),
            report.as_of.to_string(),
            report.allocation.to_string(),
            report.requests_to_date.to_string(),
            rounded(report.projected),
            rounded(report.projected_low),
            rounded(report.projected_high),
            rounded(report.run_rate),
            c.oauth_client_id.clone(),
            c.oauth_client_name.clone(),
            c.requests_to_date.to_string(),
            rounded(c.projected),
            format!("{:.6}", c.share_of_projection),
            c.previous_requests.to_string(),
            c.change.map(|x| format!("{x:.6}")).unwrap_or_default(),
        ];
        writer
            .write_record(csv.record(&record))
            .map_err(std::io::Error::other)?;
    }
    writer.flush()?;
    Ok(())
}

/// The period's figures, then a table of the clients.
fn table(out: &mut dyn std::io::Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "Fair-use allocation, billing period {} to {} (estimate), as of {}: {} days elapsed, {} left",
        report.period_first_day,
        report.period_last_day,
        report.as_of,
        report.days_elapsed,
        report.days_left
    )?;
    writeln!(
        out,
        "Allocation {} requests ({})",
        thousands(report.allocation as i64),
        untrusted::terminal(&report.allocation_source)
    )?;
    writeln!(
        out,
        "So far {} requests, {:.1} % of it",
        thousands(report.requests_to_date),
        report.share_to_date * 100.0
    )?;
    writeln!(
        out,
        "Projected at the period's end {} ({} to {}), {:.1} % of it; run rate {}",
        whole(report.projected),
        whole(report.projected_low),
        whole(report.projected_high),
        report.projected_share * 100.0,
        whole(report.run_rate)
    )?;
    if report.projected_overage > 0.0 {
        writeln!(
            out,
            "Projected overage {} requests",
            whole(report.projected_overage)
        )?;
    } else {
        writeln!(out, "No overage projected")?;
    }
    writeln!(
        out,
        "Estimate: the Usage API counts every request, the built-in clients' included; Genesys bills from its own count{}",
        if report.excluded_clients.is_empty() {
            String::new()
        } else {
            format!("; left out: {}", report.excluded_clients.join(", "))
        }
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = report
        .clients
        .iter()
        .map(|c| {
            vec![
                format!("{} ({})", c.oauth_client_name, c.oauth_client_id),
                thousands(c.requests_to_date),
                whole(c.projected),
                format!("{:.1}", c.share_of_projection * 100.0),
                c.change
                    .map(|x| format!("{:+.0} %", x * 100.0))
                    .unwrap_or_else(|| "new".into()),
            ]
        })
        .collect();
    write_table(
        &mut *out,
        &[
            "OAuth client (id)",
            "so far",
            "projected",
            "% of projection",
            "vs same days before",
        ],
        &rows,
        |c| c != "OAuth client (id)",
    )?;
    Ok(())
}
