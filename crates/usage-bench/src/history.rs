//! `genesys-usage report --from` a synced dataset against DuckDB on the same files: the
//! 1,000,000-row dataset of the sync benchmark (10,000 series over 100 days), the report
//! of the 100 days (per client and endpoint, the 429s day by day, and the limits each client
//! came near from the dataset's rate-limit table) against DuckDB computing the per-client
//! sums and near-limit hours of the same days (the `duckdb` Python package). Each is a process of
//! its own, started afresh, in the same run; wall time, and the tool's peak memory.

use std::time::{Duration, Instant};

use crate::cli::{run_tool, tool};
use crate::measure::{median, median_u64, ms};

const RUNS: usize = 5;
const SERIES: usize = 10_000;
const DAYS: u64 = 100;

/// The per-client sums, as DuckDB computes them, with the hours each client spent near its
/// most-hit limit (a namespace and key: the same key in two namespaces is two limits) from
/// the rate-limit table; printed as `id requests 429s hours` lines.
const DUCKDB: &str = r#"
import sys, duckdb
root, first, last = sys.argv[1:4]
rows = duckdb.sql(f"""
    WITH usage AS (
        SELECT oauthClientId, sum(requestCount) AS requests, sum(status429) AS limited
        FROM read_parquet('{root}/usage/granularity=day/*/part-0.parquet', hive_partitioning = true)
        WHERE date BETWEEN DATE '{first}' AND DATE '{last}'
        GROUP BY 1
    ), near AS (
        SELECT entityId, max(hours) AS hours FROM (
            SELECT entityId, namespace, limitName, count(DISTINCT bucketStart) AS hours
            FROM read_parquet('{root}/ratelimits/granularity=hour/*/part-0.parquet', hive_partitioning = true)
            WHERE date BETWEEN DATE '{first}' AND DATE '{last}' AND "count" > 0
            GROUP BY 1, 2, 3
        ) GROUP BY 1
    )
    SELECT oauthClientId, requests, limited, coalesce(hours, 0)
    FROM usage LEFT JOIN near ON entityId = oauthClientId
    ORDER BY 1
""").fetchall()
for client, requests, limited, hours in rows:
    print(client, requests, limited, hours)
"#;

fn duckdb(
    root: &str,
    first: &str,
    last: &str,
) -> Result<(Duration, String), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let out = std::process::Command::new("python3")
        .args(["-c", DUCKDB, root, first, last])
        .output()?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "DuckDB (python3 with the duckdb package) failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok((elapsed, String::from_utf8(out.stdout)?))
}

pub async fn run() -> crate::Result {
    let tool = tool().await?;
    let (mut fake, url) = crate::e2e::spawn_fake_with(SERIES, Duration::ZERO).await?;
    let dir = std::env::temp_dir().join(format!("usage-bench-history-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let root = dir.to_string_lossy().into_owned();
    let since = format!("{DAYS}d");
    run_tool(
        &tool,
        &url,
        &[
            "sync",
            "--to",
            &root,
            "--since",
            &since,
            "--group-by",
            "OauthClientId,UserId,TemplateUri,HttpMethod",
        ],
    )
    .await?;
    fake.kill().await?;
    let today = chrono::Utc::now().date_naive();
    let (first, last) = (
        (today - chrono::Days::new(DAYS)).to_string(),
        (today - chrono::Days::new(1)).to_string(),
    );
    let report = [
        "report", "--from", &root, "--since", &since, "--format", "json", "--quiet",
    ];

    // The two agree before they are timed: the report's per-client totals are DuckDB's.
    let out = std::process::Command::new(&tool)
        .args(report)
        .env_clear()
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "report --from failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let clients: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    let mut ours: Vec<String> = clients
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c["oauthClientId"].as_str().unwrap_or_default(),
                c["requestCount"],
                c["status429"],
                c["limits"][0]["nearLimitHours"].as_u64().unwrap_or(0)
            )
        })
        .collect();
    ours.sort();
    let (_, theirs) = duckdb(&root, &first, &last)?;
    let theirs: Vec<String> = theirs.lines().map(str::to_string).collect();
    if ours != theirs || ours.is_empty() {
        return Err(format!("report --from and DuckDB disagree:\n{ours:?}\n{theirs:?}").into());
    }

    let (mut ours_t, mut ours_m, mut duck_t) = (vec![], vec![], vec![]);
    for run in 0..=RUNS {
        let (t, m, _, _) = run_tool(&tool, "http://127.0.0.1:9", &report).await?;
        let (d, _) = duckdb(&root, &first, &last)?;
        // The first round warms the page cache.
        if run > 0 {
            ours_t.push(t);
            ours_m.push(m);
            duck_t.push(d);
        }
    }
    std::fs::remove_dir_all(&dir)?;
    let serve = serve_refresh()?;
    let (t, d, m) = (
        median(&mut ours_t),
        median(&mut duck_t),
        median_u64(&mut ours_m),
    );
    println!(
        "history: report --from a {} row dataset ({SERIES} series x {DAYS} days, {} clients) \
         {:.1} ms / {:.1} MiB peak; DuckDB's per-client sums of the same files {:.1} ms; \
         time ratio {:.3} (target <= 1.0); peak memory {:.1} MiB (target <= 64); median of {RUNS}",
        SERIES as u64 * DAYS,
        clients.len(),
        ms(t),
        m as f64 / 1024.0,
        ms(d),
        t.as_secs_f64() / d.as_secs_f64(),
        m as f64 / 1024.0,
    );
    println!(
        "history: serve --from a year of the demo org: from its start to the first refresh served \
         {:.1} ms (target: well under a second)",
        ms(serve)
    );
    Ok(())
}

/// A year of the demo org synced, then `serve --from` it: the time from the exporter's start
/// to its first scrape with a refresh in (process start and the refresh's read of the last
/// 7 days).
fn serve_refresh() -> Result<Duration, Box<dyn std::error::Error>> {
    use std::io::{BufRead, Read, Write};
    let exe = std::env::current_exe()?.with_file_name("genesys-usage");
    let dir = std::env::temp_dir().join(format!("usage-bench-year-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let status = std::process::Command::new(&exe)
        .args(["sync", "--demo", "--quiet", "--since", "365d", "--to"])
        .arg(&dir)
        .status()?;
    if !status.success() {
        return Err("sync --demo --since 365d failed".into());
    }
    let started = Instant::now();
    let mut child = std::process::Command::new(&exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--from"])
        .arg(&dir)
        .env_clear()
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().ok_or("serve printed no address")??;
        if let Some(rest) = line.strip_prefix("serve: http://") {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut took = None;
    for _ in 0..10_000 {
        let mut stream = std::net::TcpStream::connect(&address)?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut body = String::new();
        stream.read_to_string(&mut body)?;
        if body.contains("\ngenesys_usage_last_refresh_success_timestamp_seconds ") {
            took = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir)?;
    took.ok_or_else(|| "serve --from never served a refresh".into())
}
