//! One aggregates query job end to end, streamed: token -> submit -> `Queued`, `Running`
//! polls -> `Succeeded`, then every page of 1,000 rows by cursor, rows counted and dropped
//! page by page. usage-ext (`aggregate_usage` + `next_page`) vs plain reqwest + serde_json
//! following `nextUri` the same way, each in a process of its own against one usage-fake
//! process; and, in the same run, the single-body query of as many rows, for memory.

use std::time::Instant;

use usage_client::models::OrganizationPublicApiUsageQueryRequest;
use usage_fake::FakeConfig;

use crate::e2e::run_child;
use crate::floor::PlainJobPage;
use crate::measure::{median, median_u64, ms, peak_rss_kib};

const RUNS: usize = 7;
const ROWS: usize = 100_000;
const PAGE: u32 = 1_000;

fn request() -> serde_json::Value {
    // A job's interval may start at most a year ago. Yesterday and today (which has no
    // data yet), grouped by client, user and endpoint: one row per series of the fake's org.
    let today = chrono::Utc::now().date_naive();
    serde_json::json!({
        "interval": format!("{}/{today}", today - chrono::Days::new(1)),
        "groupBy": ["OauthClientId", "UserId", "TemplateUri", "HttpMethod"],
    })
}

pub async fn job(variant: &str, url: &str) -> crate::Result {
    let config = FakeConfig::default();
    let started = Instant::now();
    let got = match variant {
        "sdk" => {
            let queries = crate::e2e::sdk_queries(url, config)?.with_page_size(PAGE)?;
            let query: OrganizationPublicApiUsageQueryRequest = serde_json::from_value(request())?;
            let mut pages = queries.aggregate_usage(&query).await?;
            let mut rows = 0;
            while let Some(page) = pages.next_page().await {
                rows += page?.len();
            }
            rows
        }
        "floor" => {
            let http = reqwest::Client::new();
            let bearer = crate::floor::bearer(&http, url, &config).await?;
            let submitted: serde_json::Value = http
                .post(format!("{url}/api/v2/usage/aggregates/query/jobs"))
                .header("authorization", &bearer)
                .json(&request())
                .send()
                .await?
                .json()
                .await?;
            let id = submitted["id"].as_str().unwrap_or_default().to_string();
            let mut next = format!("/api/v2/usage/aggregates/query/jobs/{id}?pageSize={PAGE}");
            let mut rows = 0;
            loop {
                let bytes = http
                    .get(format!("{url}{next}"))
                    .header("authorization", &bearer)
                    .send()
                    .await?
                    .bytes()
                    .await?;
                let page: PlainJobPage = serde_json::from_slice(&bytes)?;
                if page.query_status.as_deref() != Some("Succeeded") {
                    continue;
                }
                rows += page.entities.len();
                match page.next_uri {
                    Some(uri) => next = uri,
                    None => break rows,
                }
            }
        }
        other => return Err(format!("unknown variant {other}").into()),
    };
    let elapsed = started.elapsed();
    if got != ROWS {
        return Err(format!("{variant}: {got} rows, expected {ROWS}").into());
    }
    println!("{} {}", elapsed.as_micros(), peak_rss_kib());
    Ok(())
}

pub async fn run() -> crate::Result {
    let exe = std::env::current_exe()?;
    let (mut fake, url) = crate::e2e::spawn_fake(ROWS).await?;
    let (mut sdk_t, mut sdk_m, mut floor_t, mut floor_m, mut single_m) =
        (vec![], vec![], vec![], vec![], vec![]);
    let rows = ROWS.to_string();
    for run in 0..=RUNS {
        let order = if run % 2 == 0 {
            ["floor", "sdk", "single"]
        } else {
            ["single", "sdk", "floor"]
        };
        for variant in order {
            let (t, m) = match variant {
                "single" => run_child(&exe, &["job", "sdk", &url, &rows]).await?,
                v => run_child(&exe, &["jobs-job", v, &url]).await?,
            };
            if run == 0 {
                continue;
            }
            match variant {
                "sdk" => {
                    sdk_t.push(t);
                    sdk_m.push(m);
                }
                "floor" => {
                    floor_t.push(t);
                    floor_m.push(m);
                }
                _ => single_m.push(m),
            }
        }
    }
    fake.kill().await?;
    let (st, ft) = (median(&mut sdk_t), median(&mut floor_t));
    let (sm, fm, single) = (
        median_u64(&mut sdk_m),
        median_u64(&mut floor_m),
        median_u64(&mut single_m),
    );
    println!(
        "jobs: {ROWS} rows in pages of {PAGE}, streamed: usage-ext {:.1} ms / {:.1} MiB peak, floor {:.1} ms / {:.1} MiB peak; \
         time ratio {:.3} (target <= 1.15); peak memory {:.3} of the single-body {ROWS}-row query's {:.1} MiB (target <= 0.25); median of {RUNS}",
        ms(st),
        sm as f64 / 1024.0,
        ms(ft),
        fm as f64 / 1024.0,
        st.as_secs_f64() / ft.as_secs_f64(),
        sm as f64 / single as f64,
        single as f64 / 1024.0,
    );
    Ok(())
}
