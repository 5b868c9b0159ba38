//! One job end to end: token -> submit -> 3 Running polls -> Complete with N rows, against
//! usage-fake on loopback, through usage-ext with zero poll delay, vs plain reqwest +
//! serde_json doing the same six requests. The fake and each job run in processes of their
//! own, so a job's peak memory is its own.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use usage_client::Client;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_ext::{PollPolicy, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService};

use crate::floor::PlainResult;
use crate::measure::{median, median_u64, ms, peak_rss_kib};

const RUNS: usize = 7;

/// One day, grouped by client, user and endpoint: one row per series of the fake's org, so
/// as many rows as it was started with. The SDK and the floor send this same body.
pub(crate) fn every_series_query() -> serde_json::Value {
    serde_json::json!({
        "interval": "2026-10-01/2026-10-02",
        "groupBy": ["OAuthClientId", "UserId", "TemplateUri", "HttpMethod"],
    })
}

pub async fn serve_fake(rows: &str) -> crate::Result {
    let fake = FakeService::start(FakeConfig {
        rows: rows.parse()?,
        completion: Completion::AfterPolls(3),
        ..FakeConfig::default()
    })
    .await?;
    println!("{}", fake.base_url());
    // Serves until the parent kills it.
    fake.wait().await;
    Ok(())
}

/// The SDK side of a benchmark: a client of the fake, polling without waits.
pub(crate) fn sdk_queries(
    url: &str,
    config: FakeConfig,
) -> Result<UsageQueries, Box<dyn std::error::Error>> {
    let client = Client::builder()
        .base_url(url)
        .client_credentials(config.client_id, config.client_secret)
        .build()?;
    Ok(UsageQueries::new(client).with_policy(PollPolicy {
        initial_delay: Duration::ZERO,
        factor: 1.0,
        max_delay: Duration::ZERO,
        max_wait: Duration::from_secs(60),
    })?)
}

pub async fn job(variant: &str, url: &str, rows: &str) -> crate::Result {
    let rows: usize = rows.parse()?;
    let config = FakeConfig::default();
    let started = Instant::now();
    let got = match variant {
        "sdk" => {
            let queries = sdk_queries(url, config)?;
            let result = queries
                .organization_usage(&serde_json::from_value::<ApiUsageOrganizationQuery>(
                    every_series_query(),
                )?)
                .await?;
            result.results.len()
        }
        "floor" => {
            let http = reqwest::Client::new();
            let bearer = crate::floor::bearer(&http, url, &config).await?;
            let submitted: serde_json::Value = http
                .post(format!("{url}/api/v2/usage/query"))
                .header("authorization", &bearer)
                .json(&every_series_query())
                .send()
                .await?
                .json()
                .await?;
            let id = submitted["executionId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            loop {
                let bytes = http
                    .get(format!("{url}/api/v2/usage/query/{id}/results"))
                    .header("authorization", &bearer)
                    .send()
                    .await?
                    .bytes()
                    .await?;
                let result: PlainResult = serde_json::from_slice(&bytes)?;
                if result.query_status.as_deref() == Some("Complete") {
                    break result.results.len();
                }
            }
        }
        other => return Err(format!("unknown variant {other}").into()),
    };
    let elapsed = started.elapsed();
    if got != rows {
        return Err(format!("{variant}: {got} rows, expected {rows}").into());
    }
    println!("{} {}", elapsed.as_micros(), peak_rss_kib());
    Ok(())
}

pub(crate) async fn run_child(
    exe: &std::path::Path,
    args: &[&str],
) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let out = tokio::process::Command::new(exe)
        .args(args)
        .output()
        .await?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut parts = text.split_whitespace();
    let micros: u64 = parts.next().ok_or("no time")?.parse()?;
    let kib: u64 = parts.next().ok_or("no memory")?.parse()?;
    Ok((Duration::from_micros(micros), kib))
}

pub async fn run() -> crate::Result {
    let exe = std::env::current_exe()?;
    for rows in [1_000usize, 100_000] {
        let mut fake = tokio::process::Command::new(&exe)
            .args(["serve-fake", &rows.to_string()])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(fake.stdout.take().ok_or("no stdout")?).lines();
        let url = lines.next_line().await?.ok_or("the fake printed no URL")?;
        let (mut sdk_t, mut sdk_m, mut floor_t, mut floor_m) = (vec![], vec![], vec![], vec![]);
        let rows_arg = rows.to_string();
        // One warm-up of each, then alternating runs.
        for run in 0..=RUNS {
            let order = if run % 2 == 0 {
                ["floor", "sdk"]
            } else {
                ["sdk", "floor"]
            };
            for variant in order {
                let (t, m) = run_child(&exe, &["job", variant, &url, &rows_arg]).await?;
                if run == 0 {
                    continue;
                }
                if variant == "sdk" {
                    sdk_t.push(t);
                    sdk_m.push(m);
                } else {
                    floor_t.push(t);
                    floor_m.push(m);
                }
            }
        }
        fake.kill().await?;
        let (st, ft) = (median(&mut sdk_t), median(&mut floor_t));
        let (sm, fm) = (median_u64(&mut sdk_m), median_u64(&mut floor_m));
        println!(
            "e2e: {rows} rows: usage-ext {:.1} ms / {:.1} MiB peak, floor {:.1} ms / {:.1} MiB peak; \
             time ratio {:.3} (target <= 1.15), memory ratio {:.3} (target <= 1.10), median of {RUNS}",
            ms(st),
            sm as f64 / 1024.0,
            ms(ft),
            fm as f64 / 1024.0,
            st.as_secs_f64() / ft.as_secs_f64(),
            sm as f64 / fm as f64
        );
    }
    Ok(())
}
