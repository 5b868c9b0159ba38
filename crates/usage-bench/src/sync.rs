//! `genesys-usage sync` against usage-fake (in a process of its own), as cron runs it:
//!
//! - 1,000,000 rows (10,000 series over 100 days), no latency: `sync` to a fresh directory
//!   against `jobs --format ndjson` for the same days and rows (the floor: the same jobs
//!   and pages, printed instead of written as Parquet); time and peak memory of each.
//! - A year's backfill with 50 ms added to every answer: `--concurrency 4` against
//!   `--concurrency 1`.

use std::time::Duration;

use crate::cli::{run_tool, tool};
use crate::measure::{median, median_u64, ms};

const RUNS: usize = 3;
const SERIES: usize = 10_000;
const DAYS: u64 = 100;

/// Rows the sync's last line reports: `sync: N days written (...), R rows, ...`.
fn rows_written(stderr: &str) -> Option<u64> {
    let line = stderr.lines().rev().find(|l| l.starts_with("sync: "))?;
    let rows = line.split(", ").find(|part| part.ends_with(" rows"))?;
    rows.trim_end_matches(" rows").replace(',', "").parse().ok()
}

fn scratch(name: &str) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("usage-bench-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// `sync` with `args` into a directory of its own, removed after; its time, peak memory
/// and stderr.
async fn sync_fresh(
    tool: &std::path::PathBuf,
    url: &str,
    args: &[&str],
) -> Result<(Duration, u64, String), Box<dyn std::error::Error>> {
    let dir = scratch("sync")?;
    let to = dir.to_string_lossy().into_owned();
    let mut all = vec!["sync", "--to", &to];
    all.extend_from_slice(args);
    let (t, m, _, stderr) = run_tool(tool, url, &all).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok((t, m, stderr))
}

pub async fn run() -> crate::Result {
    let tool = tool().await?;
    let (mut fake, url) = crate::e2e::spawn_fake_with(SERIES, Duration::ZERO).await?;
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Days::new(DAYS);
    let yesterday = today - chrono::Days::new(1);
    let interval = format!("{first}/{yesterday}");
    let group_by = "OauthClientId,UserId,TemplateUri";
    let since = format!("{DAYS}d");
    let expected = SERIES as u64 * DAYS;
    let (mut sync_t, mut sync_m, mut jobs_t, mut jobs_m) = (vec![], vec![], vec![], vec![]);
    for run in 0..=RUNS {
        let (t, m, lines, _) = run_tool(
            &tool,
            &url,
            &[
                "jobs",
                "--interval",
                &interval,
                "--granularity",
                "Day",
                "--group-by",
                group_by,
                "--format",
                "ndjson",
                "--quiet",
            ],
        )
        .await?;
        if lines as u64 != expected {
            return Err(format!("jobs: {lines} rows, expected {expected}").into());
        }
        let (st, sm, stderr) =
            sync_fresh(&tool, &url, &["--since", &since, "--group-by", group_by]).await?;
        if rows_written(&stderr) != Some(expected) {
            return Err(format!("sync wrote other than {expected} rows: {stderr}").into());
        }
        // The first round warms the fake and the page cache.
        if run > 0 {
            jobs_t.push(t);
            jobs_m.push(m);
            sync_t.push(st);
            sync_m.push(sm);
        }
    }
    fake.kill().await?;
    let (st, jt) = (median(&mut sync_t), median(&mut jobs_t));
    let (sm, jm) = (median_u64(&mut sync_m), median_u64(&mut jobs_m));
    println!(
        "sync: {expected} rows ({SERIES} series x {DAYS} days) to Parquet {:.1} ms / {:.1} MiB peak; \
         jobs --format ndjson, same rows, {:.1} ms / {:.1} MiB peak; time ratio {:.3} (target <= 1.3); \
         peak memory {:.1} MiB (target <= 64); median of {RUNS}",
        ms(st),
        sm as f64 / 1024.0,
        ms(jt),
        jm as f64 / 1024.0,
        st.as_secs_f64() / jt.as_secs_f64(),
        sm as f64 / 1024.0,
    );

    // A year with 50 ms on every answer: the default org's series, one, then four jobs at once.
    let (mut fake, url) = crate::e2e::spawn_fake_with(0, Duration::from_millis(50)).await?;
    let mut times = Vec::new();
    for concurrency in ["1", "4"] {
        let (t, _, stderr) = sync_fresh(
            &tool,
            &url,
            &["--since", "365d", "--concurrency", concurrency],
        )
        .await?;
        if !stderr.contains("sync: 365 days written") {
            return Err(format!("the year's sync did not write 365 days: {stderr}").into());
        }
        times.push(t);
    }
    fake.kill().await?;
    println!(
        "sync: a year's backfill (5 jobs), 50 ms on every answer: --concurrency 1 {:.2} s, \
         --concurrency 4 {:.2} s; ratio {:.3} (target <= 0.4)",
        times[0].as_secs_f64(),
        times[1].as_secs_f64(),
        times[1].as_secs_f64() / times[0].as_secs_f64(),
    );
    Ok(())
}
