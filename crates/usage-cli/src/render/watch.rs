//! `watch`'s screen on a terminal, drawn anew after each poll: which client is near which
//! limit in the current hour, the events of the lookback by client and limit with
//! yesterday's 429 share beside each, and the latest events. The org's text is escaped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::analysis::live::LiveView;
use crate::untrusted::terminal;

/// How many of the latest events the screen lists.
const LATEST: usize = 10;

/// The screen for `view` at `now`, polled every `every_seconds`, the events of the last
/// `lookback_minutes`.
pub fn screen(
    view: &LiveView,
    now: DateTime<Utc>,
    every_seconds: u64,
    lookback_minutes: u64,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "genesys-usage watch · {} · the events of the last {lookback_minutes} min, polled every {every_seconds} s · Ctrl-C ends it",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(why) = &view.failing {
        let _ = writeln!(
            out,
            "! the last poll failed: {}; trying again",
            terminal(why)
        );
    }
    let name_of = |id: &str, fallback: &str| -> String {
        let name = view
            .yesterday
            .get(id)
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(fallback);
        if name.is_empty() {
            terminal(id).into_owned()
        } else {
            format!("{} ({})", terminal(name), terminal(id))
        }
    };
    let _ = writeln!(
        out,
        "\nNear a limit this hour ({}:00 UTC):",
        now.format("%H")
    );
    match (&view.near_now_missing, view.near_now.is_empty()) {
        (Some(why), _) => {
            let _ = writeln!(out, "  not shown: {}", terminal(why));
        }
        (None, true) => {
            let _ = writeln!(out, "  no client");
        }
        (None, false) => {
            for (id, key, namespace, value, records) in &view.near_now {
                let value = value.map_or("value unknown".into(), |v| v.to_string());
                let space = if namespace == "platform.api" || namespace.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", terminal(namespace))
                };
                let _ = writeln!(
                    out,
                    "  {}  {} ({value}){space}  {records} record{}",
                    name_of(id, ""),
                    terminal(key),
                    if *records == 1 { "" } else { "s" }
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nEvents of the last {lookback_minutes} min, by client and limit (yesterday's 429 share):"
    );
    let rows = view.by_client();
    if rows.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (id, name, definition, value, n) in rows {
        let share = view
            .yesterday
            .get(&id)
            .map_or("no usage yesterday".into(), |(_, s)| {
                format!("{:.2} % 429 yesterday", s * 100.0)
            });
        let _ = writeln!(
            out,
            "  {}  {}  value {}  {n} event{}  ({share})",
            name_of(&id, &name),
            terminal(&definition),
            terminal(&value),
            if n == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "\nLatest events:");
    for (at, id, name, definition, value) in view.events.iter().rev().take(LATEST) {
        let _ = writeln!(
            out,
            "  {}  {}  {}  value {}",
            at.format("%H:%M:%S"),
            terminal(definition),
            name_of(id, name),
            terminal(value)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_screen_names_the_limit_beside_the_usage_and_escapes_the_org() {
        let now = Utc.with_ymd_and_hms(2026, 12, 8, 10, 5, 0).unwrap();
        let mut view = LiveView::default();
        let event = |hour: u32, value: &str| usage_ext::models::OperationalEvent {
            date_created: Some(Utc.with_ymd_and_hms(2026, 12, 8, hour, 0, 0).unwrap()),
            entity_id: Some("c1".into()),
            entity_name: Some("CRM \u{1b}[31mpop".into()),
            current_value: Some(value.into()),
            ..Default::default()
        };
        view.add(
            &[
                (event(8, "600"), Some("Rate limit near".into())),
                (event(9, "600"), Some("Rate limit near".into())),
                (event(10, "300"), Some("Rate limit near".into())),
            ],
            now - chrono::Duration::hours(2),
        );
        assert_eq!(view.events.len(), 2, "the 08:00 event is past the lookback");
        view.near_now = vec![(
            "c1".into(),
            "token.rate.per.minute".into(),
            "platform.api".into(),
            Some(300),
            2,
        )];
        view.yesterday
            .insert("c1".into(), ("CRM screen pop".into(), 0.0663));
        let text = screen(&view, now, 60, 120);
        assert!(
            text.contains("  CRM screen pop (c1)  token.rate.per.minute (300)  2 records"),
            "{text}"
        );
        assert!(
            text.contains(
                "  CRM screen pop (c1)  Rate limit near  value 600  1 event  (6.63 % 429 yesterday)"
            ),
            "{text}"
        );
        assert!(text.contains("  10:00:00  Rate limit near  CRM screen pop (c1)  value 300"));
        view.yesterday.clear();
        view.failing = Some("a 503".into());
        let text = screen(&view, now, 60, 120);
        assert!(!text.contains('\u{1b}'), "the org's text escaped: {text:?}");
        assert!(text.contains("(no usage yesterday)"), "{text}");
        assert!(text.contains("! the last poll failed: a 503"), "{text}");
    }
}
