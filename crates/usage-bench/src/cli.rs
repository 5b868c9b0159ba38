//! `genesys-usage` exporting 100,000 rows as NDJSON against usage-fake (in a process of its
//! own), as a user would run it: through the jobs API, streamed page by page, and through
//! the query API, whose single answer holds every row. Time is the child's wall clock; peak
//! memory is its VmHWM, read from /proc while it runs (it only grows, so the last reading
//! is the peak up to then; the export's memory is flat after the first pages).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, BufReader};
use usage_fake::FakeConfig;

use crate::measure::{median, median_u64, ms};

const RUNS: usize = 5;
const ROWS: usize = 100_000;

/// The release `genesys-usage` beside this binary, built first if it is not there.
pub(crate) async fn tool() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("genesys-usage");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = tokio::process::Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "usage-cli"])
        .status()
        .await?;
    if !status.success() || !path.exists() {
        return Err("building genesys-usage (cargo build --release -p usage-cli) failed".into());
    }
    Ok(path)
}

pub(crate) fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs the tool with `args`; returns its time, its peak memory and the lines it printed.
async fn export(
    tool: &PathBuf,
    url: &str,
    args: &[&str],
) -> Result<(Duration, u64, usize), Box<dyn std::error::Error>> {
    let mut all = args.to_vec();
    all.extend(["--quiet", "--format", "ndjson"]);
    let (elapsed, peak, lines, _) = run_tool(tool, url, &all).await?;
    Ok((elapsed, peak, lines))
}

/// Runs the tool with `args` against the fake at `url`; returns its time, its peak memory,
/// the lines it printed on stdout and what it printed on stderr.
pub(crate) async fn run_tool(
    tool: &PathBuf,
    url: &str,
    args: &[&str],
) -> Result<(Duration, u64, usize, String), Box<dyn std::error::Error>> {
    let config = FakeConfig::default();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(tool)
        .args(args)
        .args(["--base-url", url])
        .env_clear()
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", &config.client_id)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", &config.client_secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the tool exited at once")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let lines = tokio::spawn(async move {
        let mut buffer = vec![0u8; 1 << 16];
        let mut lines = 0usize;
        loop {
            match stdout.read(&mut buffer).await {
                Ok(0) | Err(_) => break lines,
                Ok(n) => lines += buffer[..n].iter().filter(|&&b| b == b'\n').count(),
            }
        }
    });
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    };
    let elapsed = started.elapsed();
    let lines = lines.await?;
    let mut err = String::new();
    if let Some(stderr) = child.stderr.take() {
        BufReader::new(stderr).read_to_string(&mut err).await?;
    }
    if !status.success() {
        return Err(format!("genesys-usage {args:?} failed: {err}").into());
    }
    Ok((elapsed, peak, lines, err))
}

pub async fn run() -> crate::Result {
    let tool = tool().await?;
    let (mut fake, url) = crate::e2e::spawn_fake(ROWS).await?;
    let today = chrono::Utc::now().date_naive();
    // Yesterday: the last day with data. A job's end day is included, a query's is not.
    let interval = format!("{}/{today}", today - chrono::Days::new(1));
    let jobs: Vec<&str> = vec![
        "jobs",
        "--interval",
        &interval,
        "--group-by",
        "OauthClientId,UserId,TemplateUri",
    ];
    let query: Vec<&str> = vec![
        "query",
        "--interval",
        &interval,
        "--group-by",
        "OAuthClientId,UserId,TemplateUri",
    ];
    let (mut jobs_t, mut jobs_m, mut query_t, mut query_m) = (vec![], vec![], vec![], vec![]);
    for run in 0..=RUNS {
        for (args, times, peaks) in [
            (&jobs, &mut jobs_t, &mut jobs_m),
            (&query, &mut query_t, &mut query_m),
        ] {
            let (t, m, lines) = export(&tool, &url, args).await?;
            if lines != ROWS {
                return Err(format!("{}: {lines} rows, expected {ROWS}", args[0]).into());
            }
            // The first round warms the fake and the page cache.
            if run > 0 {
                times.push(t);
                peaks.push(m);
            }
        }
    }
    fake.kill().await?;
    let (jt, qt) = (median(&mut jobs_t), median(&mut query_t));
    let (jm, qm) = (median_u64(&mut jobs_m), median_u64(&mut query_m));
    println!(
        "cli: genesys-usage --format ndjson, {ROWS} rows: `jobs` (pages of 1,000, streamed) {:.1} ms / {:.1} MiB peak; \
         `query` (one answer) {:.1} ms / {:.1} MiB peak; jobs' peak memory {:.3} of the query's; median of {RUNS}",
        ms(jt),
        jm as f64 / 1024.0,
        ms(qt),
        qm as f64 / 1024.0,
        jm as f64 / qm as f64,
    );
    Ok(())
}
