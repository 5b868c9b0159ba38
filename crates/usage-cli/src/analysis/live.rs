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
