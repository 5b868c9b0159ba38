//! `evidence`: one client's case, as a paragraph of facts, a text summary for the terminal,
//! JSON, and one self-contained page to attach to a support case (inline CSS and SVG, no
//! script, nothing fetched, as the report's page). Names from the org are data.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::NaiveDate;

use crate::analysis::evidence::Evidence;
use crate::render::format::Format;
use crate::render::html::{escape, head, hour_strip, percent};
use crate::render::output::{thousands, write_table};
use crate::untrusted;

/// The facts a request for a higher limit needs, in one paragraph, the numbers as the
/// tables give them.
pub fn facts(e: &Evidence) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut text = format!(
        "From {} to {} (UTC), OAuth client {} ({}) sent {} requests to the Genesys Cloud \
         Platform API, of which {} ({:.2} %) were answered 429 (Too Many Requests).",
        e.first_day,
        e.last_day,
        e.oauth_client_name,
        e.oauth_client_id,
        thousands(e.request_count),
        thousands(e.status429),
        e.status429_share * 100.0
    );
    match e.limits.as_ref().and_then(|l| l.first()) {
        Some(near) => {
            let days: BTreeSet<NaiveDate> = e
                .near_limit_hours
                .iter()
                .filter(|h| h.limit_key == near.limit_key && h.namespace == near.namespace)
                .map(|h| h.hour.date_naive())
                .collect();
            let when = match near.peak_hours_utc.len() {
                0 | 1 => format!("most often at {}", near.peak()),
                _ => format!("its busiest hours {}", near.peak()),
            };
            text.push_str(&format!(
                " It came near the limit {} (namespace {}){} in {} hour{} on {} day{}, {when}.",
                near.limit_key,
                near.namespace,
                crate::render::report::as_users(&near.users),
                thousands(i64::from(near.near_limit_hours)),
                plural(near.near_limit_hours as usize),
                thousands(days.len() as i64),
                plural(days.len()),
            ));
            let limits = e.limits.as_deref().unwrap_or_default();
            if limits.len() > 1 {
                let hours = crate::analysis::limits::distinct_hours(limits);
                let which = match limits.len() {
                    2 => "both limits".to_string(),
                    n => format!("all {n} limits"),
                };
                text.push_str(&format!(
                    " Counting {which} it came near, it was near a limit in {} distinct hour{}.",
                    thousands(i64::from(hours)),
                    plural(hours as usize)
                ));
            }
        }
        None if e.limits.is_some() => text.push_str(" It has no near-limit records in the window."),
        None => {}
    }
    if let Some(org) = &e.org_value {
        let number = |v: Option<i64>| v.map(thousands).unwrap_or_else(|| "unknown".into());
        text.push_str(&format!(
            " The org's value of that limit is {} (default {}{}).",
            number(org.value),
            number(org.default_value),
            if org.raised { ", already raised" } else { "" }
        ));
    }
    if let Some(requests) = &e.change_requests {
        match requests.last() {
            Some(last) => text.push_str(&format!(
                " The org made {} request{} to raise it in the last year; the latest is {} ({}).",
                thousands(requests.len() as i64),
                plural(requests.len()),
                last.status.as_deref().unwrap_or("of unknown status"),
                last.support_case_url
            )),
            None => text.push_str(" The org made no request to raise it in the last year."),
        }
    }
    if let Some(events) = &e.events {
        text.push_str(&format!(
            " {} operational event{} name the client.",
            thousands(events.len() as i64),
            plural(events.len())
        ));
    }
    text
}

/// Writes the evidence in `format` (the table is a text summary).
pub fn write(out: &mut dyn Write, format: Format, e: &Evidence) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, e)?;
            writeln!(out)
        }
        Format::Html => page(out, e),
        _ => summary(out, e),
    }
}

fn summary(out: &mut dyn Write, e: &Evidence) -> io::Result<()> {
    writeln!(out, "{}", untrusted::terminal(&e.facts))?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = e
        .days
        .iter()
        .map(|d| {
            // Distinct hours: an hour near two limits is one hour near a limit.
            let hours = e
                .near_limit_hours
                .iter()
                .filter(|h| h.hour.date_naive() == d.date)
                .map(|h| h.hour)
                .collect::<BTreeSet<_>>()
                .len();
            vec![
                d.date.to_string(),
                thousands(d.request_count),
                thousands(d.status429),
                hours.to_string(),
            ]
        })
        .collect();
    write_table(
        out,
        &["day", "requests", "429s", "hours near a limit"],
        &rows,
        |c| c != "day",
    )?;
    // What a support case asks next, each pasteable: the limit, the limits it came near,
    // the endpoints, the requests to raise it, and the events per day.
    if let Some(org) = &e.org_value {
        let number = |v: Option<i64>| v.map(thousands).unwrap_or_else(|| "unknown".into());
        writeln!(
            out,
            "\nThe limit: {} ({}): the org's value {}, default {}, {}",
            untrusted::terminal(&org.key),
            untrusted::terminal(&org.namespace),
            number(org.value),
            number(org.default_value),
            if org.raised { "raised" } else { "not raised" }
        )?;
    }
    if let Some(limits) = e.limits.as_ref().filter(|l| !l.is_empty()) {
        writeln!(out, "\nLimits it came near:")?;
        for l in limits {
            writeln!(
                out,
                "  {}",
                untrusted::terminal(&crate::render::report::near_line(l))
            )?;
        }
    }
    if !e.top_endpoints.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = e
            .top_endpoints
            .iter()
            .map(|ep| {
                vec![
                    format!("{} {}", ep.http_method, ep.template_uri),
                    thousands(ep.request_count),
                    thousands(ep.status429),
                    percent(ep.status429, ep.request_count),
                ]
            })
            .collect();
        write_table(
            out,
            &["endpoint", "requests", "429s", "429 %"],
            &rows,
            |c| c != "endpoint",
        )?;
    }
    if let Some(requests) = e.change_requests.as_ref().filter(|r| !r.is_empty()) {
        writeln!(out, "\nRequests to raise it (last year):")?;
        for r in requests {
            let day = |d: Option<chrono::DateTime<chrono::Utc>>| {
                d.map(|d| d.date_naive().to_string())
                    .unwrap_or_else(|| "-".into())
            };
            writeln!(
                out,
                "  {} {}: requested {}, value now {}, completed {}, {}",
                day(r.date_created),
                untrusted::terminal(r.status.as_deref().unwrap_or("?")),
                r.requested_value,
                r.current_value
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                day(r.date_completed),
                untrusted::terminal(&r.support_case_url)
            )?;
        }
    }
    if let Some(days) = e.event_days.as_ref().filter(|d| !d.is_empty()) {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = days
            .iter()
            .map(|d| {
                vec![
                    d.date.to_string(),
                    d.event_definition.clone(),
                    thousands(d.events as i64),
                ]
            })
            .collect();
        write_table(out, &["day", "operational events", "count"], &rows, |c| {
            c == "count"
        })?;
    }
    for why in &e.missing {
        writeln!(out, "\nNot shown: {}", untrusted::terminal(why))?;
    }
    Ok(())
}

fn page(out: &mut dyn Write, e: &Evidence) -> io::Result<()> {
    let name = escape(&e.oauth_client_name);
    let id = escape(&e.oauth_client_id);
    let mut html = head(&format!(
        "Rate-limit evidence: {name}, {} to {}",
        e.first_day, e.last_day
    ));
    let _ = writeln!(
        html,
        "<header><h1>Rate-limit evidence: {name}</h1>\
         <p class=\"meta\">OAuth client <b data-field=\"oauthClientId\">{id}</b> · {} to {} (UTC days) · genesys-usage {}</p></header>\
         <h2>Facts</h2><p class=\"summary\" data-field=\"facts\">{}</p>",
        e.first_day,
        e.last_day,
        env!("CARGO_PKG_VERSION"),
        escape(&e.facts),
    );
    daily(&mut html, e);
    strip(&mut html, e);
    endpoints(&mut html, e);
    limit(&mut html, e);
    events(&mut html, e);
    if !e.missing.is_empty() {
        html.push_str("<h2>Not shown</h2><ul>");
        for why in &e.missing {
            let _ = write!(html, "<li>{}</li>", escape(why));
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>\n");
    out.write_all(html.as_bytes())
}

/// Requests and 429s by day: a bar per day, the part answered 429 dark, and the table.
fn daily(html: &mut String, e: &Evidence) {
    let (width, height, left, bottom, top) = (960.0, 220.0, 64.0, 28.0, 10.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let max = e
        .days
        .iter()
        .map(|d| d.request_count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = e.days.len().max(1) as f64;
    let bar = plot_w / n;
    let _ = write!(
        html,
        "<h2>Requests and 429s by day</h2><svg role=\"img\" aria-label=\"requests per day, the part answered 429 dark\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        width - 10.0,
        top + 10.0,
        thousands(max as i64)
    );
    for (i, d) in e.days.iter().enumerate() {
        let x = left + i as f64 * bar;
        let h = d.request_count as f64 / max * plot_h;
        let h429 = d.status429 as f64 / max * plot_h;
        let y = top + plot_h - h;
        let _ = write!(
            html,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#56B4E9\"><title>{} · {} requests</title></rect>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h429:.1}\" fill=\"#D55E00\"><title>{} · {} 429s</title></rect>",
            (bar - 1.0).max(0.5),
            d.date,
            thousands(d.request_count),
            top + plot_h - h429,
            (bar - 1.0).max(0.5),
            d.date,
            thousands(d.status429),
        );
    }
    if let (Some(first), Some(last)) = (e.days.first(), e.days.last()) {
        let _ = write!(
            html,
            "<text x=\"{left}\" y=\"{}\">{}</text><text x=\"{:.1}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            height - 8.0,
            first.date,
            left + plot_w,
            height - 8.0,
            last.date
        );
    }
    html.push_str("</svg><table><thead><tr><th>day</th><th class=\"n\">requests</th><th class=\"n\">429s</th><th class=\"n\">429 %</th></tr></thead><tbody>");
    for d in &e.days {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\" data-field=\"requestCount\">{}</td><td class=\"n\" data-field=\"status429\">{}</td><td class=\"n\">{}</td></tr>",
            d.date,
            thousands(d.request_count),
            thousands(d.status429),
            percent(d.status429, d.request_count)
        );
    }
    html.push_str("</tbody></table>");
}

/// When the wall is hit: a row per day, a cell per hour (UTC), dark where the client had
/// near-limit records.
fn strip(html: &mut String, e: &Evidence) {
    let Some(limits) = &e.limits else {
        return;
    };
    html.push_str("<h2>Hours near a limit (UTC)</h2>");
    if limits.is_empty() {
        html.push_str("<p>No near-limit records in the window.</p>");
        return;
    }
    let days: Vec<NaiveDate> = e.days.iter().map(|d| d.date).collect();
    let records: Vec<(chrono::DateTime<chrono::Utc>, i64)> = e
        .near_limit_hours
        .iter()
        .map(|h| (h.hour, h.records))
        .collect();
    hour_strip(
        html,
        &days,
        &records,
        "hours with near-limit records, a row per day",
    );
    html.push_str("<table><thead><tr><th>limit</th><th class=\"n\">value</th><th class=\"n\">hours</th><th class=\"n\">records</th><th class=\"n\">peak hour</th></tr></thead><tbody>");
    for l in limits {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\" data-field=\"nearLimitHours\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&format!(
                "{}{}",
                l.limit_key,
                crate::render::report::as_users(&l.users)
            )),
            l.limit_value.map_or_else(|| "unknown".into(), thousands),
            l.near_limit_hours,
            l.records,
            escape(&l.peak())
        );
    }
    html.push_str("</tbody></table>");
}

fn endpoints(html: &mut String, e: &Evidence) {
    html.push_str("<h2>Endpoints</h2><table><thead><tr><th>endpoint</th><th class=\"n\">requests</th><th class=\"n\">429s</th><th class=\"n\">429 %</th></tr></thead><tbody>");
    for ep in &e.top_endpoints {
        let _ = write!(
            html,
            "<tr><td><code>{} {}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&ep.http_method),
            escape(&ep.template_uri),
            thousands(ep.request_count),
            thousands(ep.status429),
            percent(ep.status429, ep.request_count)
        );
    }
    html.push_str("</tbody></table>");
}

fn limit(html: &mut String, e: &Evidence) {
    if let Some(org) = &e.org_value {
        let _ = write!(
            html,
            "<h2>The limit</h2><table><tbody><tr><th>key</th><td><code>{}</code> ({})</td></tr>\
             <tr><th>the org's value</th><td data-field=\"limitValue\">{}</td></tr>\
             <tr><th>default</th><td data-field=\"defaultValue\">{}</td></tr>\
             <tr><th>raised</th><td>{}</td></tr><tr><th>what it limits</th><td>{}</td></tr></tbody></table>",
            escape(&org.key),
            escape(&org.namespace),
            org.value.map(thousands).unwrap_or_default(),
            org.default_value.map(thousands).unwrap_or_default(),
            if org.raised { "yes" } else { "no" },
            escape(org.description.as_deref().unwrap_or_default())
        );
    }
    if let Some(requests) = &e.change_requests {
        html.push_str("<h2>Requests to raise it (last year)</h2>");
        if requests.is_empty() {
            html.push_str("<p>None.</p>");
            return;
        }
        html.push_str("<table><thead><tr><th>created</th><th>status</th><th class=\"n\">requested</th><th class=\"n\">value now</th><th>completed</th><th>support case</th></tr></thead><tbody>");
        for r in requests {
            let day = |d: Option<chrono::DateTime<chrono::Utc>>| {
                d.map(|d| d.date_naive().to_string()).unwrap_or_default()
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                day(r.date_created),
                escape(r.status.as_deref().unwrap_or_default()),
                r.requested_value,
                r.current_value.map(|v| v.to_string()).unwrap_or_default(),
                day(r.date_completed),
                escape(&r.support_case_url)
            );
        }
        html.push_str("</tbody></table>");
    }
}

fn events(html: &mut String, e: &Evidence) {
    let Some(events) = &e.events else {
        return;
    };
    let _ = write!(
        html,
        "<h2>Operational events ({})</h2>",
        thousands(events.len() as i64)
    );
    // Per day and definition: a year is thousands of events of one definition.
    let days = e.event_days.as_deref().unwrap_or_default();
    if days.is_empty() {
        return;
    }
    html.push_str("<table><thead><tr><th>day</th><th>event definition</th><th class=\"n\">events</th></tr></thead><tbody>");
    for d in days {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"n\" data-field=\"eventCount\">{}</td></tr>",
            d.date,
            escape(&d.event_definition),
            thousands(d.events as i64)
        );
    }
    html.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use chrono::{NaiveDate, TimeZone as _, Utc};
    use usage_ext::models::OperationalEvent;
    use usage_ext::{DayWindow, RateLimitRecord};

    use crate::analysis::evidence::{Evidence, Fetched};

    /// A year's case, pasteable: the hours, the days and the events in its sentences have
    /// their thousands separated, as the tables do.
    #[test]
    fn the_facts_group_the_thousands() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days = DayWindow::new(first, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let records: Vec<RateLimitRecord> = (0..1234)
            .map(|h| RateLimitRecord {
                bucket_start: start + chrono::Duration::hours(h),
                entity_id: Some("c".into()),
                user_id: None,
                limit_key: Some("k".into()),
                namespace: Some("platform.api".into()),
                max: Some(600),
                count: 1,
            })
            .collect();
        let event = OperationalEvent {
            entity_id: Some("c".into()),
            date_created: Some(start),
            ..OperationalEvent::default()
        };
        let case = Evidence::of(Fetched {
            days,
            client_id: "c".into(),
            client_name: "C".into(),
            daily: BTreeMap::new(),
            endpoints: Vec::new(),
            records: Ok(records),
            org_limits: Err("not asked".into()),
            org_limits_namespace: "platform.api".into(),
            change_requests: Err("not asked".into()),
            events: Ok(vec![event; 2345]),
            event_names: HashMap::new(),
        });
        let facts = super::facts(&case);
        for part in [" in 1,234 hours", " 2,345 operational events"] {
            assert!(facts.contains(part), "{part:?} in {facts}");
        }
    }
}
