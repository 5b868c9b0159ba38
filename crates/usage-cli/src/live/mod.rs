//! The live feed: the operational events as they come, polled. Each poll asks for the
//! events of the last `lookback` (one request, more when a page is full) and hands out
//! those not handed out before: an event the service shows late, within the lookback, is
//! still caught, and none is handed out twice. What it remembers is pruned to the lookback,
//! so a feed that runs for days holds an hour of keys, not its history.

pub mod alerts;
pub mod view;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound as _, Utc};
use usage_ext::models::Interval;

use crate::lake::events::Kept;
use crate::source::{Family, Unavailable};

/// The operational events since the feed started, each once.
pub struct EventFeed {
    lookback: chrono::Duration,
    /// The events handed out, by their whole JSON (two events alike in every field are
    /// one), with when they were created.
    seen: HashMap<String, DateTime<Utc>>,
    /// Today's (UTC) hours with an event, by entity, as the polls saw them.
    today: (
        chrono::NaiveDate,
        HashMap<String, std::collections::BTreeSet<DateTime<Utc>>>,
    ),
}

impl EventFeed {
    /// A feed reaching `lookback` back at each poll.
    pub fn new(lookback: Duration) -> Self {
        Self {
            lookback: chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::hours(1)),
            seen: HashMap::new(),
            today: (chrono::NaiveDate::MIN, HashMap::new()),
        }
    }

    /// The events of the lookback up to `now` not handed out before, oldest first, as
    /// `fetch` answers for an interval (the API's events query, named).
    pub async fn poll<F, Fut>(
        &mut self,
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<Vec<Kept>, Unavailable>
    where
        F: FnOnce(Interval) -> Fut,
        Fut: std::future::Future<Output = Family<Vec<Kept>>>,
    {
        let since = now - self.lookback;
        let interval = Interval {
            start: since,
            // The end is excluded: an event created at this very instant comes next poll.
            end: now,
        };
        let events = fetch(interval).await?;
        let mut new = Vec::new();
        if self.today.0 != now.date_naive() {
            self.today = (now.date_naive(), HashMap::new());
        }
        for kept in events {
            let key = serde_json::to_string(&kept.event).unwrap_or_default();
            let created = kept.event.date_created.unwrap_or(now);
            if self.seen.insert(key, created).is_none() {
                if created.date_naive() == self.today.0 {
                    let hour = created
                        .duration_trunc(chrono::Duration::hours(1))
                        .unwrap_or(created);
                    self.today
                        .1
                        .entry(kept.event.entity_id.clone().unwrap_or_default())
                        .or_default()
                        .insert(hour);
                }
                new.push(kept);
            }
        }
        // What is past the lookback cannot come again.
        self.seen.retain(|_, created| *created >= since);
        new.sort_by_key(|k| k.event.date_created);
        Ok(new)
    }

    /// The hours of today (UTC) in which `entity` had an event, as far as the polls saw.
    pub fn hours_today(&self, entity: &str) -> usize {
        self.today.1.get(entity).map_or(0, |hours| hours.len())
    }

    /// How many events it remembers (its memory, bounded by the lookback).
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}
