//! What the live feed has seen, as the exporter counts it: the operational events per
//! client, definition and the limit's value since the exporter started (a counter:
//! Prometheus's `increase()` reads it across restarts), and how the polls went.

use std::collections::BTreeMap;

use usage_ext::models::OperationalEvent;

/// A client (id, name), a definition (its name, else its id) and the value it was near.
pub type EventSeries = (String, String, String, String);

/// The events counted since the start, and the polls' health.
#[derive(Debug, Clone, Default)]
pub struct LiveEvents {
    pub counts: BTreeMap<EventSeries, u64>,
    /// Seconds since the epoch of the last poll that succeeded.
    pub last_success: Option<f64>,
    /// Whether the last poll read the events (none until a poll answered either way, and
    /// none from a source that keeps no live events).
    pub up: Option<bool>,
}

impl LiveEvents {
    /// Counts one event, with its definition's name when known.
    pub fn add(&mut self, event: &OperationalEvent, definition_name: Option<&str>) {
        let definition = definition_name
            .map(str::to_string)
            .or_else(|| event.event_definition.as_ref().and_then(|d| d.id.clone()))
            .unwrap_or_default();
        let series = (
            event.entity_id.clone().unwrap_or_default(),
            event.entity_name.clone().unwrap_or_default(),
            definition,
            event.current_value.clone().unwrap_or_default(),
        );
        *self.counts.entry(series).or_insert(0) += 1;
    }
}

/// What `watch` shows on a terminal, kept up to date poll by poll: the events of the last
/// lookback by client and limit, the clients near a limit in the current hour (the
/// rate-limit aggregates of today, read hourly), yesterday's 429 share per client for
/// context, the latest events, and what went wrong last.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    /// The events of the lookback, oldest first: (created, client id, client name,
    /// definition, value).
    pub events: Vec<(
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        String,
        String,
    )>,
    /// This hour's near-limit records: (client id, limit key, namespace, value, records).
    pub near_now: Vec<(String, String, String, Option<i64>, i64)>,
    /// Why this hour's records are not shown, when they are not.
    pub near_now_missing: Option<String>,
    /// Yesterday's 429 share per client id (0 to 1), with its name.
    pub yesterday: std::collections::HashMap<String, (String, f64)>,
    /// The last poll's failure, while it lasts.
    pub failing: Option<String>,
}

impl LiveView {
    /// Adds polled events and forgets those created before `since`.
    pub fn add(
        &mut self,
        events: &[(OperationalEvent, Option<String>)],
        since: chrono::DateTime<chrono::Utc>,
    ) {
        for (event, name) in events {
            let Some(at) = event.date_created else {
                continue;
            };
            self.events.push((
                at,
                event.entity_id.clone().unwrap_or_default(),
                event.entity_name.clone().unwrap_or_default(),
                name.clone()
                    .or_else(|| event.event_definition.as_ref().and_then(|d| d.id.clone()))
                    .unwrap_or_default(),
                event.current_value.clone().unwrap_or_default(),
            ));
        }
        self.events.retain(|e| e.0 >= since);
        self.events.sort_by_key(|e| e.0);
    }

    /// The events by client, definition and value, the most first: (client id, name,
    /// definition, value, events).
    pub fn by_client(&self) -> Vec<(String, String, String, String, usize)> {
        let mut counts: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
        for (_, id, name, definition, value) in &self.events {
            *counts
                .entry((id.clone(), name.clone(), definition.clone(), value.clone()))
                .or_default() += 1;
        }
        let mut rows: Vec<_> = counts
            .into_iter()
            .map(|((id, name, definition, value), n)| (id, name, definition, value, n))
            .collect();
        rows.sort_by(|a, b| b.4.cmp(&a.4).then_with(|| a.0.cmp(&b.0)));
        rows
    }
}
