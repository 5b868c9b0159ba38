//! Poll overhead: queries that complete at T = 0.3 s, 3 s, 30 s (and 10 % either side), on
//! a simulated clock shared by the client and the fake; the real usage-ext helper with the
//! default policy. Reports when the helper returns relative to T and how many result GETs
//! it made.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use usage_client::models::ApiUsageOrganizationQuery;
use usage_client::{BoxFuture, Client, Clock};
use usage_ext::UsageQueries;
use usage_fake::{Completion, FakeConfig, FakeService, Operation};

/// Time that moves only when someone sleeps on it.
#[derive(Debug)]
struct SimClock {
    start: tokio::time::Instant,
    offset: Mutex<Duration>,
}

impl SimClock {
    fn elapsed(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for SimClock {
    fn now(&self) -> tokio::time::Instant {
        self.start + self.elapsed()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += duration;
        Box::pin(async {})
    }
}

pub async fn run() -> crate::Result {
    for target in [0.3f64, 3.0, 30.0] {
        for scale in [1.0, 0.9, 1.1] {
            let t = Duration::from_secs_f64(target * scale);
            let clock = Arc::new(SimClock {
                start: tokio::time::Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            });
            let ready = clock.clone();
            let fake = FakeService::start(FakeConfig {
                completion: Completion::When(Arc::new(move || ready.elapsed() >= t)),
                rows: 10,
                ..FakeConfig::default()
            })
            .await?;
            let client = Client::builder()
                .base_url(&fake.base_url())
                .client_credentials(fake.client_id(), fake.client_secret())
                .clock(clock.clone())
                .build()?;
            UsageQueries::new(client)
                .organization_usage(&ApiUsageOrganizationQuery::new("2026-10-01/2026-11-01"))
                .await?;
            let returned = clock.elapsed().as_secs_f64();
            let gets = fake.requests(Operation::GetUsageQueryExecutionIdResults);
            let bound = 1.15 * t.as_secs_f64() + 0.2;
            let ok = returned <= bound && gets <= 12;
            println!(
                "poll: {} completes at {:>6.2} s -> returned at {:>6.2} s (+{:>5.1} %), {:>2} result GETs; \
                 1.15 T + 0.2 = {:.3} s, <= 12 GETs: {}",
                if scale == 1.0 {
                    "target     "
                } else {
                    "sensitivity"
                },
                t.as_secs_f64(),
                returned,
                (returned / t.as_secs_f64() - 1.0) * 100.0,
                gets,
                bound,
                if ok { "met" } else { "missed" }
            );
        }
    }
    Ok(())
}
