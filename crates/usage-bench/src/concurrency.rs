//! 1,000 jobs at once through one cloned client (one pool, one token) against an
//! in-process usage-fake: throughput, the process's peak memory, token requests.

use std::time::{Duration, Instant};

use usage_client::Client;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_ext::{PollPolicy, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Operation};

use crate::measure::peak_rss_kib;

const JOBS: usize = 1_000;
const ROWS: usize = 100;

pub async fn run() -> crate::Result {
    let fake = FakeService::start(FakeConfig {
        rows: ROWS,
        completion: Completion::AfterPolls(3),
        ..FakeConfig::default()
    })
    .await?;
    let client = Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
        .build()?;
    let queries = UsageQueries::new(client)
        .with_policy(
            PollPolicy::default()
                .with_initial_delay(Duration::from_millis(10))
                .with_factor(1.5)
                .with_max_delay(Duration::from_millis(100))
                .with_max_wait(Duration::from_secs(120)),
        )
        .expect("a valid poll policy");
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let mut jobs = tokio::task::JoinSet::new();
    for _ in 0..JOBS {
        let queries = queries.clone();
        jobs.spawn(async move {
            queries
                .organization_usage(&ApiUsageOrganizationQuery::new("2026-10-01/2026-11-01"))
                .await
                .map(|r| r.results.len())
        });
    }
    let mut rows = 0;
    while let Some(done) = jobs.join_next().await {
        rows += done??;
    }
    let elapsed = started.elapsed();
    let requests = fake.total_requests();
    println!(
        "concurrency: {JOBS} jobs ({rows} rows, {requests} requests) in {:.2} s: {:.0} jobs/s, {:.0} requests/s; \
         peak RSS {:.1} MiB (before {:.1} MiB; fake in-process); token requests {} (target 1)",
        elapsed.as_secs_f64(),
        JOBS as f64 / elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        fake.requests(Operation::Token)
    );
    Ok(())
}
