#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::io::Write;

use usage_client::models::{ApiUsageOrganizationQuery, ApiUsageRow, OrganizationGroupBy};
use usage_client::{Client, ClientBuilder, env};
use usage_ext::{PollEvent, UsageQueries};
use usage_fake::{FakeConfig, FakeService};

/// Rows shown in the table; the rest are summed in the totals.
const TOP: usize = 15;

/// Runs the quickstart, reading `GENESYSCLOUD_*` through `lookup` and printing to `out`.
pub async fn run(
    lookup: impl Fn(&str) -> Option<String>,
    out: &mut impl Write,
) -> Result<(), Box<dyn std::error::Error>> {
    let has_credentials = [env::CLIENT_ID, env::ACCESS_TOKEN]
        .iter()
        .any(|name| lookup(name).is_some_and(|v| !v.trim().is_empty()));
    // Kept alive until the end: dropping it stops the fake.
    let mut fake = None;
    let client = if has_credentials {
        let builder = ClientBuilder::from_env_with(&lookup)?;
        writeln!(out, "Using the org configured by GENESYSCLOUD_* variables.")?;
        builder.build()?
    } else {
        let service = FakeService::start(FakeConfig::default()).await?;
        writeln!(
            out,
            "No GENESYSCLOUD_* credentials set: running against usage-fake at {} (offline).",
            service.base_url()
        )?;
        let client = Client::builder()
            .base_url(&service.base_url())
            .client_credentials(service.client_id(), service.client_secret())
            .build()?;
        fake = Some(service);
        client
    };

    let today = chrono::Utc::now().date_naive();
    let interval = format!("{}/{}", today - chrono::Days::new(7), today);
    let query = ApiUsageOrganizationQuery::new(interval.clone()).with_group_by([
        OrganizationGroupBy::OAuthClientId,
        OrganizationGroupBy::TemplateUri,
        OrganizationGroupBy::HttpMethod,
    ]);
    let queries = UsageQueries::new(client);
    let execution = queries.submit_organization(&query).await?;
    writeln!(
        out,
        "Submitted usage query for {interval}: execution {}",
        execution.execution_id
    )?;
    let mut trace = Vec::new();
    let result = execution
        .wait_with(&queries, |event| trace.push(event.clone()))
        .await;
    for event in &trace {
        writeln!(out, "{}", poll_line(event))?;
    }
    let result = result?;
    writeln!(out)?;
    write_table(out, &result.results)?;
    drop(fake);
    Ok(())
}

fn poll_line(event: &PollEvent) -> String {
    let next = if event.next_delay.is_zero() {
        String::new()
    } else {
        format!(", next poll in {:.2} s", event.next_delay.as_secs_f64())
    };
    format!(
        "  poll {:>2} at {:>6.2} s: {:?}{next}",
        event.poll,
        event.elapsed.as_secs_f64(),
        event.status
    )
}

fn write_table(out: &mut impl Write, rows: &[ApiUsageRow]) -> std::io::Result<()> {
    let mut rows: Vec<&ApiUsageRow> = rows.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.requests.unwrap_or(0)));
    let total: i64 = rows.iter().filter_map(|r| r.requests).sum();
    let total_429: i64 = rows.iter().filter_map(|r| r.status429).sum();
    writeln!(
        out,
        "{:<22} {:<6} {:<60} {:>10} {:>8} {:>6}",
        "OAuth client", "method", "template URI", "requests", "429s", "429 %"
    )?;
    writeln!(out, "{}", "-".repeat(117))?;
    for row in rows.iter().take(TOP) {
        let requests = row.requests.unwrap_or(0);
        let limited = row.status429.unwrap_or(0);
        let name = row
            .client_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(row.client_id.as_deref())
            .unwrap_or("");
        writeln!(
            out,
            "{:<22} {:<6} {:<60} {:>10} {:>8} {:>6.2}",
            clip(name, 22),
            row.http_method.as_deref().unwrap_or(""),
            clip(row.template_uri.as_deref().unwrap_or(""), 60),
            requests,
            limited,
            percent(limited, requests)
        )?;
    }
    writeln!(out, "{}", "-".repeat(117))?;
    writeln!(
        out,
        "{} rows ({} shown), {} requests, {} answered 429 ({:.2} %)",
        rows.len(),
        rows.len().min(TOP),
        total,
        total_429,
        percent(total_429, total)
    )
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut clipped: String = s.chars().take(width - 1).collect();
        clipped.push('~');
        clipped
    }
}
