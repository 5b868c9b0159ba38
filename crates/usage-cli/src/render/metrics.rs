//! The org's usage as Prometheus metrics: gauges of the last complete UTC day and of the
//! last 7 days per OAuth client and endpoint, and the exporter's own health. Rendered whole
//! into one exposition per refresh, in Prometheus's text format or OpenMetrics, so that a
//! scrape gets one refresh or the one before, never half of each.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::analysis::allowance::{ClientPart, Report};
use crate::analysis::live::LiveEvents;
use crate::analysis::usage::{Backfill, Counts, Usage};

/// A gauge family: its name, its help, and what it shows of a window's counts.
type Gauge = (&'static str, &'static str, fn(&Counts) -> f64);

/// The backfill's OpenMetrics text: each family whole, each series in time order, `# EOF`
/// last.
pub fn backfill(history: &Backfill) -> String {
    let mut out = String::new();
    for (name, help, value) in GAUGES {
        header(&mut out, name, help, "gauge");
        for ((id, client, method, uri), date, counts) in history.days() {
            let at = date.succ_opt().map_or(0, day_start);
            let _ = writeln!(
                out,
                "{name}{{oauth_client_id=\"{}\",oauth_client_name=\"{}\",http_method=\"{}\",template_uri=\"{}\",window=\"1d\"}} {} {at}",
                label(id),
                label(client),
                label(method),
                label(uri),
                value(counts)
            );
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The usage gauges, as `serve` exports them and the backfill writes them.
const GAUGES: [Gauge; 4] = [
    (
        "genesys_usage_requests",
        "Requests to the Genesys Cloud API, per OAuth client and endpoint, over the window (1d: the last complete UTC day; 7d: the 7 days up to it).",
        |c| c.requests as f64,
    ),
    (
        "genesys_usage_requests_429",
        "Requests answered 429 (rate limited), per OAuth client and endpoint, over the window.",
        |c| c.status429 as f64,
    ),
    (
        "genesys_usage_requests_5xx",
        "Requests answered 5xx, per OAuth client and endpoint, over the window.",
        |c| c.status5xx as f64,
    ),
    (
        "genesys_usage_429_ratio",
        "Share of requests answered 429, 0 to 1, per OAuth client and endpoint, over the window.",
        |c| {
            if c.requests > 0 {
                c.status429 as f64 / c.requests as f64
            } else {
                0.0
            }
        },
    ),
];

/// The exporter's own health.
#[derive(Debug, Clone, Copy, Default)]
pub struct Health {
    /// Seconds since the epoch of the last refresh that succeeded.
    pub last_success: Option<f64>,
    pub refreshes: u64,
    pub refresh_errors: u64,
    /// Requests the exporter sent to the Usage API (token requests and retries included).
    pub api_requests: u64,
}

/// The two text formats a scraper may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    Prometheus,
    OpenMetrics,
}

impl Exposition {
    /// OpenMetrics when the scraper's `Accept` names it, as Prometheus does.
    pub fn for_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Exposition::OpenMetrics,
            _ => Exposition::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The limits each client came near on the last complete day, and the org's values of its
/// limits beside their defaults. Families with no sample are left out.
fn rate_limits(out: &mut String, orgs: &[Scraped<'_>]) {
    type Near = fn(&crate::analysis::usage::ClientNearLimit) -> f64;
    let near: [(&str, &str, Near); 2] = [
        (
            // In seconds, Prometheus's base unit: whole hours (the aggregates' buckets) * 3600.
            "genesys_usage_rate_limit_near_seconds",
            "Time of the last complete UTC day in hours with near-limit records (the rate-limit aggregates, at 90 % of the limit), per OAuth client and limit.",
            |n| f64::from(n.hours) * 3600.0,
        ),
        (
            "genesys_usage_rate_limit_near_records",
            "Near-limit records of the last complete UTC day, per OAuth client and limit.",
            |n| n.records as f64,
        ),
    ];
    if orgs.iter().any(|o| !o.usage.near_limits.is_empty()) {
        for (name, help, value) in near {
            header(out, name, help, "gauge");
            for org in orgs {
                for n in &org.usage.near_limits {
                    let set = format!(
                        "oauth_client_id=\"{}\",oauth_client_name=\"{}\",limit=\"{}\",namespace=\"{}\"",
                        label(&n.oauth_client_id),
                        label(&n.oauth_client_name),
                        label(&n.limit_key),
                        label(&n.namespace),
                    );
                    let _ = writeln!(out, "{name}{} {}", labels(org.profile, &set), value(n));
                }
            }
        }
    }
    type Org = fn(&crate::analysis::usage::OrgLimitValue) -> Option<i64>;
    let values: [(&str, &str, Org); 2] = [
        (
            "genesys_usage_rate_limit_value",
            "The org's effective value of a limit (raised by a change request, or the default).",
            |l| l.value,
        ),
        (
            "genesys_usage_rate_limit_default",
            "A limit's default value, as Genesys documents it.",
            |l| l.default,
        ),
    ];
    if orgs.iter().any(|o| !o.usage.org_limits.is_empty()) {
        for (name, help, value) in values {
            header(out, name, help, "gauge");
            for org in orgs {
                for l in &org.usage.org_limits {
                    if let Some(v) = value(l) {
                        let set = format!(
                            "limit=\"{}\",namespace=\"{}\"",
                            label(&l.key),
                            label(&l.namespace)
                        );
                        let _ = writeln!(out, "{name}{} {v}", labels(org.profile, &set));
                    }
                }
            }
        }
    }
}

/// A label value as both formats take it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One org on a scrape: the profile it is served under (a label on every series when the
/// exporter serves several), its last good data and its health.
pub struct Scraped<'a> {
    pub profile: Option<&'a str>,
    pub usage: &'a Usage,
    pub health: Health,
    /// The live feed's counts (empty without one).
    pub live: &'a LiveEvents,
}

/// A label set: the org's profile first, when it has one, then `rest` (`a="x",b="y"`).
fn labels(profile: Option<&str>, rest: &str) -> String {
    match (profile, rest.is_empty()) {
        (None, true) => String::new(),
        (None, false) => format!("{{{rest}}}"),
        (Some(p), true) => format!("{{profile=\"{}\"}}", label(p)),
        (Some(p), false) => format!("{{profile=\"{}\",{rest}}}", label(p)),
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition of every org: each family once, its samples org by org (the text
/// formats want a family's samples together).
pub fn render(orgs: &[Scraped<'_>], format: Exposition) -> String {
    let mut out = String::new();
    for (name, help, value) in GAUGES {
        header(&mut out, name, help, "gauge");
        for org in orgs {
            for ((id, client, method, uri), (day, week)) in &org.usage.series {
                for (window, counts) in [("1d", day), ("7d", week)] {
                    let set = format!(
                        "oauth_client_id=\"{}\",oauth_client_name=\"{}\",http_method=\"{}\",template_uri=\"{}\",window=\"{window}\"",
                        label(id),
                        label(client),
                        label(method),
                        label(uri),
                    );
                    let _ = writeln!(out, "{name}{} {}", labels(org.profile, &set), value(counts));
                }
            }
        }
    }
    if orgs.iter().any(|o| o.usage.allocation.is_some()) {
        allocation(&mut out, orgs);
    }
    rate_limits(&mut out, orgs);
    header(
        &mut out,
        "genesys_usage_data_day_timestamp_seconds",
        "Start (00:00 UTC) of the last complete day the usage gauges hold; the data is a day late.",
        "gauge",
    );
    for org in orgs {
        if let Some(day) = org.usage.last_day {
            let _ = writeln!(
                out,
                "genesys_usage_data_day_timestamp_seconds{} {}",
                labels(org.profile, ""),
                day_start(day)
            );
        }
    }
    live(&mut out, orgs, format);
    header(
        &mut out,
        "genesys_usage_family_up",
        "Whether a family beside the usage (rate_limit_aggregates, organization_limits) was read at the last refresh: 1, or 0 when it was refused or failed and its gauges are absent.",
        "gauge",
    );
    for org in orgs {
        let live = org.live.up.map(|up| ("operational_events", up));
        for (family, up) in org
            .usage
            .families_up
            .iter()
            .map(|(f, u)| (*f, *u))
            .chain(live)
        {
            let _ = writeln!(
                out,
                "genesys_usage_family_up{} {}",
                labels(org.profile, &format!("family=\"{family}\"")),
                u8::from(up)
            );
        }
    }
    header(
        &mut out,
        "genesys_usage_last_refresh_success_timestamp_seconds",
        "When the exporter last refreshed its data from the Usage API successfully.",
        "gauge",
    );
    for org in orgs {
        if let Some(at) = org.health.last_success {
            let _ = writeln!(
                out,
                "genesys_usage_last_refresh_success_timestamp_seconds{} {at:.3}",
                labels(org.profile, "")
            );
        }
    }
    let counters: [(&str, &str, HealthCount); 3] = [
        (
            "genesys_usage_refreshes",
            "Refreshes attempted from the Usage API.",
            |h| h.refreshes,
        ),
        (
            "genesys_usage_refresh_errors",
            "Refreshes that failed; the last good values are still served.",
            |h| h.refresh_errors,
        ),
        (
            "genesys_usage_exporter_api_requests",
            "Requests the exporter itself sent to the Usage API (token requests and retries included): what it spent of the org's rate limit.",
            |h| h.api_requests,
        ),
    ];
    for (name, help, value) in counters {
        // OpenMetrics names the counter family without `_total`, its sample with it.
        let family = match format {
            Exposition::OpenMetrics => name.to_string(),
            Exposition::Prometheus => format!("{name}_total"),
        };
        header(&mut out, &family, help, "counter");
        for org in orgs {
            let _ = writeln!(
                out,
                "{name}_total{} {}",
                labels(org.profile, ""),
                value(&org.health)
            );
        }
    }
    if format == Exposition::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The live feed's families: the operational events counted since the exporter started,
/// per client, definition and the limit's value, and when the events were last read.
fn live(out: &mut String, orgs: &[Scraped<'_>], format: Exposition) {
    if orgs.iter().any(|o| !o.live.counts.is_empty()) {
        let name = "genesys_usage_operational_events";
        // OpenMetrics names the counter family without `_total`, its sample with it.
        let family = match format {
            Exposition::OpenMetrics => name.to_string(),
            Exposition::Prometheus => format!("{name}_total"),
        };
        header(
            out,
            &family,
            "Operational events (a limit nearly reached, ...) seen since the exporter started, per OAuth client, event definition and the limit's value: polled every minute, fresh where the usage is a day late.",
            "counter",
        );
        for org in orgs {
            for ((id, client, definition, value), n) in &org.live.counts {
                let set = format!(
                    "oauth_client_id=\"{}\",oauth_client_name=\"{}\",event_definition=\"{}\",limit_value=\"{}\"",
                    label(id),
                    label(client),
                    label(definition),
                    label(value),
                );
                let _ = writeln!(out, "{name}_total{} {n}", labels(org.profile, &set));
            }
        }
    }
    if orgs.iter().any(|o| o.live.last_success.is_some()) {
        header(
            out,
            "genesys_usage_events_last_poll_success_timestamp_seconds",
            "When the exporter last read the operational events successfully.",
            "gauge",
        );
        for org in orgs {
            if let Some(at) = org.live.last_success {
                let _ = writeln!(
                    out,
                    "genesys_usage_events_last_poll_success_timestamp_seconds{} {at:.3}",
                    labels(org.profile, "")
                );
            }
        }
    }
}

/// Seconds since the epoch of a day's 00:00 UTC.
fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// One of the exporter's own counters.
type HealthCount = fn(&Health) -> u64;

/// One figure of the billing period.
type PeriodFigure = fn(&Report) -> f64;

/// One figure of a client's part of the billing period.
type ClientFigure = fn(&ClientPart) -> f64;

/// The billing period's gauges of the orgs given an allocation: one series each for the
/// org, and the requests so far and projected per client.
fn allocation(out: &mut String, orgs: &[Scraped<'_>]) {
    let org: [(&str, &str, PeriodFigure); 7] = [
        (
            "genesys_usage_allocation_requests",
            "The org's fair-use allocation for the billing period (--licenses or --allocation), in requests.",
            |r| r.allocation as f64,
        ),
        (
            "genesys_usage_period_requests",
            "Requests so far in the billing period, its complete days (an estimate: the Usage API counts the built-in clients too).",
            |r| r.requests_to_date as f64,
        ),
        (
            "genesys_usage_period_projected_requests",
            "Requests projected at the billing period's end, each day left from the same weekday of the 4 weeks before.",
            |r| r.projected,
        ),
        (
            "genesys_usage_period_projected_low_requests",
            "The low end of the projection: each day left at its weekday's lowest of the 4 weeks before.",
            |r| r.projected_low,
        ),
        (
            "genesys_usage_period_projected_high_requests",
            "The high end of the projection: each day left at its weekday's highest of the 4 weeks before.",
            |r| r.projected_high,
        ),
        (
            "genesys_usage_period_start_timestamp_seconds",
            "Start (00:00 UTC) of the billing period.",
            |r| day_start(r.period_first_day) as f64,
        ),
        (
            "genesys_usage_period_end_timestamp_seconds",
            "End (00:00 UTC of the day after its last) of the billing period.",
            |r| day_start(r.period_last_day.succ_opt().unwrap_or(r.period_last_day)) as f64,
        ),
    ];
    let reports: Vec<(Option<&str>, &Report)> = orgs
        .iter()
        .filter_map(|o| o.usage.allocation.as_ref().map(|r| (o.profile, r)))
        .collect();
    for (name, help, value) in org {
        header(out, name, help, "gauge");
        for (profile, report) in &reports {
            let _ = writeln!(
                out,
                "{name}{} {}",
                labels(*profile, ""),
                value(report).round()
            );
        }
    }
    let per_client: [(&str, &str, ClientFigure); 2] = [
        (
            "genesys_usage_client_period_requests",
            "An OAuth client's requests so far in the billing period.",
            |c| c.requests_to_date as f64,
        ),
        (
            "genesys_usage_client_period_projected_requests",
            "An OAuth client's requests projected at the billing period's end.",
            |c| c.projected,
        ),
    ];
    for (name, help, value) in per_client {
        header(out, name, help, "gauge");
        for (profile, report) in &reports {
            for c in &report.clients {
                let set = format!(
                    "oauth_client_id=\"{}\",oauth_client_name=\"{}\"",
                    label(&c.oauth_client_id),
                    label(&c.oauth_client_name),
                );
                let _ = writeln!(out, "{name}{} {}", labels(*profile, &set), value(c).round());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use usage_ext::models::OrganizationPublicApiUsage;

    use super::*;

    fn row(
        date: &str,
        client: &str,
        uri: &str,
        requests: i64,
        limited: i64,
    ) -> OrganizationPublicApiUsage {
        serde_json::from_value(serde_json::json!({
            "date": date, "oauthClient": {"id": client, "name": format!("{client} \"quoted\"")},
            "httpMethod": "GET", "templateUri": uri,
            "requestCount": requests, "status429": limited, "status500": 1,
        }))
        .unwrap()
    }

    #[test]
    fn the_last_day_and_the_week_per_series_with_the_rest_as_other() {
        let rows = [
            row("2026-11-29", "a", "x", 10, 1),
            row("2026-11-30", "a", "x", 20, 2),
            row("2026-11-30", "a", "y", 5, 5),
            row("2026-11-30", "a", "z", 1, 0),
        ];
        let usage = Usage::from_rows(&rows, "2026-11-30".parse().unwrap(), 1);
        assert_eq!(usage.series.len(), 2, "x, then y and z as other");
        let x = &usage.series[&("a".into(), "a \"quoted\"".into(), "GET".into(), "x".into())];
        assert_eq!(x.0.requests, 20);
        assert_eq!(x.1.requests, 30);
        let other = &usage.series[&(
            "a".into(),
            "a \"quoted\"".into(),
            "other".into(),
            "other".into(),
        )];
        assert_eq!(
            (other.1.requests, other.1.status429, other.1.status5xx),
            (6, 5, 2)
        );
        let mut live = LiveEvents::default();
        let event = usage_ext::models::OperationalEvent {
            entity_id: Some("a".into()),
            entity_name: Some("A".into()),
            current_value: Some("600".into()),
            ..Default::default()
        };
        live.add(&event, Some("Rate limit near"));
        live.add(&event, Some("Rate limit near"));
        live.up = Some(true);
        let one = |profile| Scraped {
            profile,
            usage: &usage,
            health: Health::default(),
            live: &live,
        };
        let text = render(&[one(None)], Exposition::Prometheus);
        assert!(text.contains(
            "genesys_usage_requests{oauth_client_id=\"a\",oauth_client_name=\"a \\\"quoted\\\"\",http_method=\"GET\",template_uri=\"x\",window=\"7d\"} 30"
        ), "{text}");
        assert!(text.contains("# TYPE genesys_usage_refresh_errors_total counter"));
        assert!(!text.contains("# EOF"));
        let open = render(&[one(None)], Exposition::OpenMetrics);
        assert!(
            open.contains(
                "# TYPE genesys_usage_refresh_errors counter\ngenesys_usage_refresh_errors_total 0"
            ),
            "{open}"
        );
        assert!(open.ends_with("# EOF\n"));
        // The live counter: a counter family, its samples with `_total`, the family up.
        assert!(
            open.contains("# TYPE genesys_usage_operational_events counter\ngenesys_usage_operational_events_total{oauth_client_id=\"a\",oauth_client_name=\"A\",event_definition=\"Rate limit near\",limit_value=\"600\"} 2"),
            "{open}"
        );
        assert!(text.contains("# TYPE genesys_usage_operational_events_total counter"));
        assert!(text.contains("genesys_usage_family_up{family=\"operational_events\"} 1"));
        // Two orgs: every family once, each series labelled with its profile.
        let two = render(
            &[one(Some("acme")), one(Some("b\"2"))],
            Exposition::Prometheus,
        );
        assert_eq!(
            two.matches("# TYPE genesys_usage_requests gauge").count(),
            1,
            "{two}"
        );
        assert!(two.contains(
            "genesys_usage_requests{profile=\"acme\",oauth_client_id=\"a\",oauth_client_name=\"a \\\"quoted\\\"\",http_method=\"GET\",template_uri=\"x\",window=\"7d\"} 30"
        ), "{two}");
        assert!(
            two.contains("genesys_usage_refreshes_total{profile=\"b\\\"2\"} 0"),
            "{two}"
        );
        assert!(two.contains("genesys_usage_data_day_timestamp_seconds{profile=\"acme\"} "));
    }
}
