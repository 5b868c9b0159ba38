//! The exporter's refreshes, each org on its own schedule: the last 7 days' usage, the
//! last complete day's near-limit records and the org's limits, and the billing period's
//! gauges when an allocation is given, replaced whole in the org's snapshot; a failed
//! refresh keeps the last good values and is counted.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use usage_ext::DayWindow;

use crate::analysis::allowance::PeriodArg;
use crate::analysis::billing::{self, PeriodAsk};
use crate::analysis::usage::{self, OrgLimitValue, Usage};
use crate::exit::Failure;
use crate::exporter::{Org, Settings};
use crate::lake::schema::Column;
use crate::live::EventFeed;
use crate::live::alerts::Alerts;
use crate::progress::Progress;
use crate::source::row::Ask;
use crate::source::{Source, Unavailable};

pub(crate) fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One refresh: the usage gauges, and the billing period's when an allocation is given,
/// both or neither (a failure keeps the last good values of all).
async fn refresh(source: &Source, progress: &Progress, plan: &Settings) -> Result<Usage, Failure> {
    // A dataset's state is read again: a sync from cron may have moved its days on.
    let reopened = source.reopened().await?;
    let source = reopened.as_ref().unwrap_or(source);
    let mut usage = refresh_usage(source, plan.top_endpoints).await?;
    refresh_limits(source, progress, &mut usage).await;
    if let Some(allocation) = &plan.allocation {
        let ask = PeriodAsk {
            billing_day: plan.billing_day,
            period: PeriodArg::Current,
            as_of: None,
            exclude: plan.exclude.clone(),
            concurrency: 1,
        };
        usage.allocation = Some(billing::compute(source, progress, &ask, allocation).await?);
    }
    Ok(usage)
}

/// The last 7 complete days, daily, summed into the gauges: one daily job, or the
/// dataset's last 7 days (fewer when it holds fewer).
async fn refresh_usage(source: &Source, top: usize) -> Result<Usage, Failure> {
    let days = source.recent_days(7)?;
    let asks = [Ask {
        days,
        columns: vec![
            Column::OauthClientId,
            Column::OauthClientName,
            Column::TemplateUri,
            Column::HttpMethod,
            Column::RequestCount,
            Column::Status429,
            Column::Status500,
        ],
        daily: true,
        needs: Vec::new(),
        purpose: "the exporter's gauges",
    }];
    let mut rows = Vec::new();
    source
        .rows(&asks, 1, |_, row| {
            rows.push(row.to_model());
            Ok(())
        })
        .await?;
    Ok(Usage::from_rows(&rows, days.last(), top))
}

/// The last complete day's near-limit records (one request) and the org's `platform.api`
/// limits (three): gauges beside the usage. What cannot be read is said and left out; the
/// usage gauges stand without them.
async fn refresh_limits(source: &Source, progress: &Progress, usage: &mut Usage) {
    let Some(last_day) = usage.last_day else {
        return;
    };
    let Some(day) = DayWindow::new(last_day, last_day) else {
        return;
    };
    match source.rate_limit_records(day).await {
        Ok(records) => {
            usage.set_near_limits(&records);
            usage.families_up.insert(usage::RATE_LIMIT_AGGREGATES, true);
        }
        Err(why) => family_down(progress, usage, usage::RATE_LIMIT_AGGREGATES, &why),
    }
    const NAMESPACE: &str = "platform.api";
    match source.organization_limits(NAMESPACE).await {
        Ok(limits) => {
            usage.families_up.insert(usage::ORGANIZATION_LIMITS, true);
            usage.org_limits = limits
                .into_iter()
                .map(|l| OrgLimitValue {
                    key: l.key,
                    namespace: NAMESPACE.into(),
                    value: l.value,
                    default: l.default,
                })
                .collect();
        }
        Err(why) => family_down(progress, usage, usage::ORGANIZATION_LIMITS, &why),
    }
}

/// A family left out: said, and down for the alert when it was asked for and could not be
/// read. One the source keeps none of (a dataset's org limits) has no gauge: nothing failed.
fn family_down(progress: &Progress, usage: &mut Usage, family: &'static str, why: &Unavailable) {
    if let Unavailable::Unread(_) = why {
        progress.note(&format!("serve: {why}"));
        usage.families_up.insert(family, false);
    }
}

/// `every`, give or take a tenth, so that exporters started together do not refresh
/// together.
fn jittered(every: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let permille = f64::from(nanos % 201) - 100.0; // -100 ..= 100
    every.mul_f64(1.0 + permille / 1000.0)
}

pub(crate) async fn refresh_forever(
    source: &Source,
    progress: &Progress,
    plan: &Settings,
    org: &Org,
) {
    let whose = org
        .profile
        .as_ref()
        .map(|p| format!(" of profile {p}"))
        .unwrap_or_default();
    loop {
        let result = refresh(source, progress, plan).await;
        {
            let mut s = org.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            s.health.refreshes += 1;
            // Counted when a refresh ends: a dataset sends none.
            s.health.api_requests = source.requests_sent();
            match result {
                Ok(usage) => {
                    s.usage = Arc::new(usage);
                    s.health.last_success = Some(now_seconds());
                }
                Err(e) => {
                    s.health.refresh_errors += 1;
                    let kept = s
                        .usage
                        .last_day
                        .map_or("no data yet".to_string(), |d| format!("the values of {d}"));
                    progress.note(&format!(
                        "serve: refresh{whose} failed ({e}); serving {kept}"
                    ));
                }
            }
        }
        tokio::time::sleep(jittered(plan.refresh)).await;
    }
}

/// The live counter: the operational events polled every `every` (each counted once, the
/// last hour's at the start), the poll's health beside them. A source that keeps no live
/// events (a dataset) ends it at once, with no gauge; a failed poll marks the family down
/// and the next catches up.
pub(crate) async fn poll_events_forever(
    source: &Source,
    progress: &Arc<Progress>,
    every: Duration,
    plan: &Settings,
    org: &Org,
) {
    let names = source.event_definition_names().await.unwrap_or_default();
    let mut alerts = plan.alerts.as_ref().map(|settings| {
        let settings = Alerts::for_profile(settings, org.profile.as_deref());
        progress.note(&format!(
            "serve: alerts go to the webhook at {}, one per client and limit every {} min",
            settings.webhook.host(),
            settings.every.as_secs() / 60
        ));
        Alerts::new(settings, progress.clone())
    });
    // An hour back, or two polls when they are further apart: an event shown late is
    // still caught.
    let mut feed = EventFeed::new(every.saturating_mul(2).max(Duration::from_secs(3600)));
    loop {
        let polled = feed
            .poll(chrono::Utc::now(), |interval| {
                let names = &names;
                async move { source.live_events(&interval, names).await }
            })
            .await;
        {
            let mut live = org.live.lock().unwrap_or_else(|e| e.into_inner());
            match polled {
                Ok(events) => {
                    let now = chrono::Utc::now();
                    for kept in &events {
                        live.add(&kept.event, kept.event_definition_name.as_deref());
                        if let Some(alerts) = alerts.as_mut() {
                            let id = kept.event.entity_id.as_deref().unwrap_or_default();
                            alerts.on_event(kept, now, feed.hours_today(id));
                        }
                    }
                    live.last_success = Some(now_seconds());
                    live.up = Some(true);
                }
                Err(Unavailable::NotKept(_)) => return,
                Err(Unavailable::Unread(why)) => {
                    if live.up != Some(false) {
                        progress.note(&format!("serve: the live events are not read: {why}"));
                    }
                    live.up = Some(false);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
