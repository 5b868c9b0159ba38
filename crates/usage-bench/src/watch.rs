//! What `genesys-usage watch` spends of the org's rate limit, and whether its memory stays
//! flat: the release tool run as a user would (piped, NDJSON) against usage-fake, polling
//! every second for 120 polls with the default lookback of an hour, the requests counted by
//! the fake per operation. A poll of a minute spends what a poll of a second does, so the
//! requests of an hour at the default `--every 60s` are 60 polls' plus the start's.

use std::process::Stdio;
use std::time::{Duration, Instant};

use usage_fake::{FakeConfig, FakeService, Operation};

use crate::cli::{tool, vm_hwm_kib};

const POLLS: u64 = 120;

pub async fn run() -> crate::Result {
    let tool = tool().await?;
    let config = FakeConfig::default();
    let fake = FakeService::start(config.clone()).await?;
    let mut child = tokio::process::Command::new(&tool)
        .args(["--base-url", &fake.base_url(), "watch", "--every", "1s"])
        .env_clear()
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", &config.client_id)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", &config.client_secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the tool exited at once")?;
    let started = Instant::now();
    let polls = || fake.requests(Operation::PostUsageEventsQuery);
    // The start: the token, the definitions, the first poll.
    while polls() < 1 {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("watch made no poll in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after_first = vm_hwm_kib(pid).unwrap_or(0);
    let at_start: Vec<(Operation, u64)> = Operation::ALL
        .iter()
        .map(|&op| (op, fake.requests(op)))
        .collect();
    while polls() < POLLS + 1 {
        if started.elapsed() > Duration::from_secs(POLLS * 3) {
            return Err(format!("only {} polls in {} s", polls(), POLLS * 3).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_end = vm_hwm_kib(pid).unwrap_or(0);
    child.start_kill()?;
    let _ = child.wait().await;
    let start: u64 = at_start.iter().map(|(_, n)| n).sum();
    let later: u64 = Operation::ALL
        .iter()
        .map(|&op| fake.requests(op))
        .sum::<u64>()
        - start;
    let per_poll = later as f64 / POLLS as f64;
    println!("genesys-usage watch, piped, against usage-fake: {POLLS} polls after the first");
    for (op, n) in &at_start {
        if *n > 0 {
            println!("  the start (with the first poll): {op:?} {n}");
        }
    }
    println!("  requests per poll after it: {per_poll:.2} (all operations)");
    println!(
        "  an hour at --every 60s: {:.0} requests (60 polls and the start's {start}); target <= 70",
        60.0 * per_poll + start as f64
    );
    println!(
        "  peak memory: {:.1} MiB after the first poll, {:.1} MiB after {POLLS} more ({:.2} of it)",
        after_first as f64 / 1024.0,
        at_end as f64 / 1024.0,
        at_end as f64 / after_first.max(1) as f64
    );
    Ok(())
}
