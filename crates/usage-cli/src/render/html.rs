//! `report --format html` and `allowance --format html`: one self-contained page each, the
//! evidence a support case for a higher rate limit asks for, and the one the person who
//! signs the invoice reads. Inline CSS and SVG only, and a
//! Content-Security-Policy that forbids fetching anything, so the file shows the same
//! offline, attached to a ticket or printed. Every number is the one `--format csv` gives
//! for the same run; the cells carry `data-` attributes naming the CSV column, so a reader
//! (or a test) can match them.

use std::fmt::Write as _;
use std::io::{self, Write};

use usage_ext::DayWindow;

use crate::analysis::allowance::Report as Allowance;
use crate::analysis::tally::{ClientReport, Totals};
use crate::render::output::{thousands, whole};
use crate::render::report::{requests_change, share_change};

/// What the page says about its data besides the clients.
pub struct Page<'a> {
    /// The window, `first/last`.
    pub window: &'a str,
    /// The window's days, for the daily chart (none without daily data).
    pub days: Option<DayWindow>,
    /// `demo data (usage-fake)` or the org's API.
    pub source: &'a str,
    /// What the report was compared with, if anything.
    pub compared: Option<DayWindow>,
}

/// The Okabe-Ito palette: told apart with every common colour-vision deficiency, and in
/// grey when printed without colour thanks to the stroke between segments.
const PALETTE: [&str; 7] = [
    "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442",
];
const OTHERS: &str = "#999999";

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;margin:2rem auto;max-width:1000px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{color:#444;margin:0}.summary{font-size:1.05rem;margin:.75rem 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{border-bottom:2px solid #333}td.n,th.n{text-align:right;white-space:nowrap}
.id{color:#555;font-size:.85em}.new{font-size:.8em;border:1px solid #555;border-radius:3px;padding:0 .25em;margin-left:.4em}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:.5rem 0;padding:0;list-style:none}
.legend span{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em;border:1px solid #333}
svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#333}
@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-after:avoid}table,svg{break-inside:avoid}}
";

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "0.00 %".into()
    } else {
        format!("{:.2} %", part as f64 * 100.0 / whole as f64)
    }
}

/// A page's start, up to its body: the Content-Security-Policy that forbids fetching
/// anything, and the inline style. `title` is HTML already.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n"
    )
}

/// When the wall is hit: a row per day of `days`, a cell per hour (UTC), dark where
/// `records` has near-limit records. Labels stay inside the chart.
pub(crate) fn hour_strip(
    html: &mut String,
    days: &[chrono::NaiveDate],
    records: &[(chrono::DateTime<chrono::Utc>, i64)],
    label: &str,
) {
    use chrono::Timelike as _;
    // Bucketed once: a year of days is 8,760 cells, and each looks its count up.
    let mut by_cell: std::collections::HashMap<(chrono::NaiveDate, u32), i64> =
        std::collections::HashMap::new();
    for (at, n) in records {
        let cell = by_cell.entry((at.date_naive(), at.hour())).or_insert(0);
        *cell = cell.saturating_add(*n);
    }
    let (left, cell_w, cell_h, top) = (90.0, 34.0, 14.0, 18.0);
    let width = left + 24.0 * cell_w + 10.0;
    let height = top + days.len() as f64 * cell_h + 6.0;
    let _ = write!(
        html,
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">",
        escape(label)
    );
    for hour in (0..24).step_by(3) {
        let _ = write!(
            html,
            "<text x=\"{:.1}\" y=\"12\">{hour:02}:00</text>",
            left + f64::from(hour) * cell_w
        );
    }
    // The quiet cells are one pattern under the grid, not a rectangle each: a year is
    // 8,760 cells, and most of them are quiet. Its id is unique on the page by where the
    // strip starts in it.
    let pattern = format!("quiet-{}", html.len());
    let _ = write!(
        html,
        "<defs><pattern id=\"{pattern}\" x=\"{left}\" y=\"{top}\" width=\"{cell_w}\" height=\"{cell_h}\" patternUnits=\"userSpaceOnUse\"><rect width=\"{:.1}\" height=\"{:.1}\" fill=\"#eeeeee\"/></pattern></defs><rect x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"url(#{pattern})\"/>",
        cell_w - 2.0,
        cell_h - 2.0,
        24.0 * cell_w,
        days.len() as f64 * cell_h,
    );
    for (row, day) in days.iter().enumerate() {
        let y = top + row as f64 * cell_h;
        let _ = write!(
            html,
            "<text x=\"0\" y=\"{:.1}\">{day}</text>",
            y + cell_h - 3.0
        );
        for hour in 0..24u32 {
            let count = by_cell.get(&(*day, hour)).copied().unwrap_or(0);
            if count <= 0 {
                continue;
            }
            let _ = write!(
                html,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#D55E00\"><title>{day} {hour:02}:00 · {count} near-limit records</title></rect>",
                left + f64::from(hour) * cell_w,
                cell_w - 2.0,
                cell_h - 2.0,
            );
        }
    }
    html.push_str("</svg>");
}

/// Per client that came near a limit (the most hours first, at most the palette's count):
/// its limit, and when.
fn near_limit_strips(html: &mut String, days: DayWindow, clients: &[ClientReport]) {
    let mut near: Vec<&ClientReport> = clients.iter().filter(|c| !c.limits.is_empty()).collect();
    if near.is_empty() {
        return;
    }
    near.sort_by_key(|c| std::cmp::Reverse(c.limits[0].near_limit_hours));
    let all: Vec<chrono::NaiveDate> = days
        .first()
        .iter_days()
        .take_while(|d| *d <= days.last())
        .collect();
    html.push_str("<h2>When clients came near a limit (UTC)</h2>");
    for client in near.into_iter().take(PALETTE.len()) {
        for limit in &client.limits {
            let _ = write!(
                html,
                "<h3>{} · <code>{}</code>{} · {} hours, peak {}</h3>",
                escape(&client.oauth_client_name),
                escape(&limit.limit_key),
                limit
                    .limit_value
                    .map(|v| format!(" ({})", thousands(v)))
                    .unwrap_or_default(),
                limit.near_limit_hours,
                escape(&limit.peak())
            );
            hour_strip(
                html,
                &all,
                &limit.hours,
                &format!(
                    "hours {} came near {}",
                    client.oauth_client_name, limit.limit_key
                ),
            );
        }
    }
}

/// Writes the page.
pub fn write(out: &mut dyn Write, page: &Page<'_>, clients: &[ClientReport]) -> io::Result<()> {
    let mut html = head(&format!(
        "Genesys Cloud API usage by OAuth client, {}",
        escape(page.window)
    ));
    let Totals {
        calling,
        requests,
        limited,
    } = Totals::of(clients);
    let _ = writeln!(
        html,
        "<header><h1>Genesys Cloud API usage by OAuth client</h1>\
         <p class=\"meta\">Window <b data-field=\"window\">{window}</b> (UTC days) · data: <b data-field=\"source\">{source}</b>{compared} · genesys-usage {version}</p>\
         <p class=\"summary\"><b>{calling}</b> OAuth clients, <b data-field=\"totalRequestCount\">{requests}</b> requests, <b data-field=\"totalStatus429\">{limited}</b> answered 429 ({share})</p></header>",
        window = escape(page.window),
        source = escape(page.source),
        compared = page
            .compared
            .map(|c| format!(" · compared with {}", escape(&c.to_string())))
            .unwrap_or_default(),
        version = env!("CARGO_PKG_VERSION"),
        requests = thousands(requests),
        limited = thousands(limited),
        share = percent(limited, requests),
    );
    if let Some(days) = page.days {
        daily_chart(&mut html, days, clients);
    }
    requests_chart(&mut html, clients);
    clients_table(&mut html, clients);
    if let Some(days) = page.days {
        near_limit_strips(&mut html, days, clients);
    }
    endpoints_table(&mut html, clients);
    html.push_str("</body></html>\n");
    out.write_all(html.as_bytes())
}

/// The clients the daily chart draws one colour each (the most 429s first); the rest share
/// one grey.
fn coloured(clients: &[ClientReport]) -> Vec<&ClientReport> {
    let mut by_429: Vec<&ClientReport> = clients.iter().filter(|c| c.status429 > 0).collect();
    by_429.sort_by_key(|c| std::cmp::Reverse(c.status429));
    by_429.truncate(PALETTE.len());
    by_429
}

fn daily_chart(html: &mut String, days: DayWindow, clients: &[ClientReport]) {
    let n = days.days() as usize;
    let shown = coloured(clients);
    let totals: Vec<i64> = (0..n)
        .map(|d| {
            clients
                .iter()
                .map(|c| c.daily429.get(d).copied().unwrap_or(0))
                .fold(0i64, i64::saturating_add)
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let (width, height, left, bottom, top) = (960.0, 280.0, 64.0, 28.0, 10.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let bar = plot_w / n.max(1) as f64;
    let _ = write!(
        html,
        "<section><h2>429s per day, by OAuth client</h2>\
         <svg role=\"img\" aria-label=\"429s per day, stacked by OAuth client\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">"
    );
    for tick in [0, max / 2, max] {
        let y = top + plot_h - plot_h * tick as f64 / max as f64;
        let _ = write!(
            html,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - 10.0,
            left - 6.0,
            y + 4.0,
            thousands(tick)
        );
    }
    for (d, date) in days.first().iter_days().take(n).enumerate() {
        let x = left + bar * d as f64;
        let mut y = top + plot_h;
        let mut segment = |value: i64, colour: &str, label: &str| {
            if value <= 0 {
                return;
            }
            let h = plot_h * value as f64 / max as f64;
            y -= h;
            let _ = write!(
                html,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{date} · {} · {} 429s</title></rect>",
                x + bar * 0.1,
                bar * 0.8,
                escape(label),
                thousands(value)
            );
        };
        for (i, c) in shown.iter().enumerate() {
            segment(
                c.daily429.get(d).copied().unwrap_or(0),
                PALETTE[i],
                &c.oauth_client_name,
            );
        }
        let others: i64 = clients
            .iter()
            .filter(|c| !shown.iter().any(|s| s.oauth_client_id == c.oauth_client_id))
            .map(|c| c.daily429.get(d).copied().unwrap_or(0))
            .fold(0i64, i64::saturating_add);
        segment(others, OTHERS, "other clients");
        // The first date starts at its bar and the last ends at its bar, so that neither
        // runs past the chart's edge; the one between is centred.
        let label = if d + 1 == n && n > 1 {
            Some((x + bar, "end"))
        } else if d == 0 {
            Some((x, "start"))
        } else if n > 2 && d == n / 2 {
            Some((x + bar / 2.0, "middle"))
        } else {
            None
        };
        if let Some((at, anchor)) = label {
            let _ = write!(
                html,
                "<text x=\"{at:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{date}</text>",
                height - 8.0
            );
        }
    }
    html.push_str("</svg><ul class=\"legend\">");
    for (i, c) in shown.iter().enumerate() {
        let _ = write!(
            html,
            "<li><span style=\"background:{}\"></span>{}</li>",
            PALETTE[i],
            escape(&c.oauth_client_name)
        );
    }
    if clients.len() > shown.len() {
        let _ = write!(
            html,
            "<li><span style=\"background:{OTHERS}\"></span>other clients</li>"
        );
    }
    html.push_str("</ul></section>\n");
}

fn requests_chart(html: &mut String, clients: &[ClientReport]) {
    let rows: Vec<&ClientReport> = clients
        .iter()
        .filter(|c| c.request_count > 0)
        .take(20)
        .collect();
    let max = rows
        .iter()
        .map(|c| c.request_count)
        .max()
        .unwrap_or(1)
        .max(1);
    let (width, row_h, label_w) = (960.0, 26.0, 260.0);
    let height = row_h * rows.len() as f64 + 10.0;
    let bar_w = width - label_w - 200.0;
    let _ = write!(
        html,
        "<section><h2>Requests per OAuth client</h2>\
         <svg role=\"img\" aria-label=\"requests per OAuth client, the part answered 429 dark\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">"
    );
    for (i, c) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let all = bar_w * c.request_count as f64 / max as f64;
        let part = bar_w * c.status429 as f64 / max as f64;
        let _ = write!(
            html,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{all:.1}\" height=\"{:.1}\" fill=\"#56B4E9\"/>\
             <rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{part:.1}\" height=\"{:.1}\" fill=\"#D55E00\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} ({} 429)</text>",
            label_w - 8.0,
            y + row_h * 0.55,
            escape(&c.oauth_client_name),
            row_h * 0.7,
            row_h * 0.7,
            label_w + all + 6.0,
            y + row_h * 0.55,
            thousands(c.request_count),
            percent(c.status429, c.request_count),
        );
    }
    html.push_str(
        "</svg><ul class=\"legend\"><li><span style=\"background:#56B4E9\"></span>requests</li>\
         <li><span style=\"background:#D55E00\"></span>answered 429</li></ul></section>\n",
    );
}

fn clients_table(html: &mut String, clients: &[ClientReport]) {
    let compared = clients.iter().any(|c| c.previous.is_some());
    html.push_str(
        "<section><h2>OAuth clients, by 429s</h2><table><thead><tr><th>OAuth client</th>\
         <th class=\"n\">requests</th><th class=\"n\">429s</th><th class=\"n\">429 share</th>",
    );
    if compared {
        html.push_str(
            "<th class=\"n\">requests vs before</th><th class=\"n\">429 share vs before</th>",
        );
    }
    html.push_str("</tr></thead><tbody>");
    for c in clients {
        let _ = write!(
            html,
            "<tr data-client=\"{id}\"><td>{name}<br><span class=\"id\">{id}</span></td>\
             <td class=\"n\" data-field=\"requestCount\">{}</td><td class=\"n\" data-field=\"status429\">{}</td>\
             <td class=\"n\">{}</td>",
            thousands(c.request_count),
            thousands(c.status429),
            percent(c.status429, c.request_count),
            id = escape(&c.oauth_client_id),
            name = escape(&c.oauth_client_name),
        );
        if compared {
            let p = c.previous.as_ref();
            let _ = write!(
                html,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td>",
                escape(&p.map(requests_change).unwrap_or_default()),
                escape(&p.map(share_change).unwrap_or_default()),
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></section>\n");
}

fn endpoints_table(html: &mut String, clients: &[ClientReport]) {
    html.push_str(
        "<section><h2>Top endpoints by 429s</h2><table><thead><tr><th>OAuth client</th><th>endpoint</th>\
         <th class=\"n\">requests</th><th class=\"n\">429s</th><th class=\"n\">429 share</th></tr></thead><tbody>",
    );
    for c in clients {
        for e in &c.top_endpoints {
            let _ = write!(
                html,
                "<tr data-client=\"{}\" data-method=\"{}\" data-uri=\"{}\"><td>{}</td><td><code>{} {}</code>{}</td>\
                 <td class=\"n\" data-field=\"endpointRequestCount\">{}</td>\
                 <td class=\"n\" data-field=\"endpointStatus429\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&c.oauth_client_id),
                escape(&e.http_method),
                escape(&e.template_uri),
                escape(&c.oauth_client_name),
                escape(&e.http_method),
                escape(&e.template_uri),
                if e.new {
                    "<span class=\"new\">new</span>"
                } else {
                    ""
                },
                thousands(e.request_count),
                thousands(e.status429),
                percent(e.status429, e.request_count),
            );
        }
    }
    html.push_str("</tbody></table></section>\n");
}

/// Writes `allowance`'s page: the period's figures, the requests day by day against the
/// allocation with the projection to the period's end, and the clients. Every number is the
/// one `--format csv` gives, in a cell whose `data-field` names the CSV column.
pub fn allowance(out: &mut dyn Write, report: &Allowance, source: &str) -> io::Result<()> {
    let mut html = head(&format!(
        "Genesys Cloud fair-use allocation, {} to {}",
        report.period_first_day, report.period_last_day
    ));
    let _ = writeln!(
        html,
        "<header><h1>Genesys Cloud API requests against the fair-use allocation (estimate)</h1>\
         <p class=\"meta\">Billing period <b data-field=\"periodFirstDay\">{first}</b> to <b data-field=\"periodLastDay\">{last}</b> (UTC days), \
         as of <b data-field=\"asOf\">{as_of}</b>: {elapsed} days elapsed, {left} left · data: <b>{source}</b> · genesys-usage {version}</p>\
         <p class=\"summary\">Allocation <b data-field=\"allocation\">{allocation}</b> requests <span class=\"id\">({allocation_source})</span><br>\
         So far <b data-field=\"requestsToDate\">{to_date}</b> requests ({share_to_date:.1} %)<br>\
         Projected at the period's end <b data-field=\"projected\">{projected}</b> \
         (<span data-field=\"projectedLow\">{low}</span> to <span data-field=\"projectedHigh\">{high}</span>), {projected_share:.1} % of the allocation; \
         run rate <span data-field=\"runRate\">{run_rate}</span><br>{overage}</p>\
         <p class=\"meta\">An estimate: the Usage API counts every request, the built-in clients' included; Genesys bills from its own count.{excluded}</p></header>",
        first = report.period_first_day,
        last = report.period_last_day,
        as_of = report.as_of,
        elapsed = report.days_elapsed,
        left = report.days_left,
        source = escape(source),
        version = env!("CARGO_PKG_VERSION"),
        allocation = thousands(report.allocation as i64),
        allocation_source = escape(&report.allocation_source),
        to_date = thousands(report.requests_to_date),
        share_to_date = report.share_to_date * 100.0,
        projected = whole(report.projected),
        low = whole(report.projected_low),
        high = whole(report.projected_high),
        projected_share = report.projected_share * 100.0,
        run_rate = whole(report.run_rate),
        overage = if report.projected_overage > 0.0 {
            format!(
                "<b>Projected overage {} requests</b>",
                whole(report.projected_overage)
            )
        } else {
            "No overage projected".to_string()
        },
        excluded = if report.excluded_clients.is_empty() {
            String::new()
        } else {
            format!(
                " Left out: {}.",
                escape(&report.excluded_clients.join(", "))
            )
        },
    );
    cumulative_chart(&mut html, report);
    allowance_clients(&mut html, report);
    html.push_str("</body></html>\n");
    out.write_all(html.as_bytes())
}

/// The requests summed day by day through the period, the allocation as a line, and from
/// today the projection to the period's end with its low–high range as a band.
fn cumulative_chart(html: &mut String, report: &Allowance) {
    let days = (report.days_elapsed + report.days_left).max(1) as f64;
    let top = [
        report.allocation as f64,
        report.projected_high,
        report.run_rate,
        report.requests_to_date as f64,
    ]
    .into_iter()
    .fold(1.0f64, f64::max)
        * 1.05;
    let (width, height, left, bottom, pad) = (960.0, 300.0, 80.0, 28.0, 10.0);
    let plot_w = width - left - pad;
    let plot_h = height - bottom - pad;
    let x = |day: f64| left + plot_w * day / days;
    let y = |requests: f64| pad + plot_h - plot_h * requests / top;
    let _ = write!(
        html,
        "<section><h2>Requests through the period, against the allocation</h2>\
         <svg role=\"img\" aria-label=\"requests summed day by day, the allocation, and the projection to the period's end\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">"
    );
    for tick in [0.0, top / 2.1, top / 1.05] {
        let _ = write!(
            html,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - pad,
            y(tick),
            y(tick),
            left - 6.0,
            y(tick) + 4.0,
            whole(tick)
        );
    }
    // The projection's range, from today's total to the low and high ends.
    let now = report.days_elapsed as f64;
    let so_far = report.requests_to_date as f64;
    if report.days_left > 0 {
        let _ = write!(
            html,
            "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#56B4E9\" fill-opacity=\"0.3\" stroke=\"none\"><title>projected {} to {}</title></polygon>\
             <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#0072B2\" stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>projected {}</title></line>",
            x(now),
            y(so_far),
            x(days),
            y(report.projected_high),
            x(days),
            y(report.projected_low),
            whole(report.projected_low),
            whole(report.projected_high),
            x(now),
            y(so_far),
            x(days),
            y(report.projected),
            whole(report.projected),
        );
    }
    let mut points = format!("{:.1},{:.1}", x(0.0), y(0.0));
    let mut sum = 0.0;
    let mut dots = String::new();
    for d in &report.daily {
        let day = (d.date - report.period_first_day).num_days() as f64 + 1.0;
        sum += d.requests as f64;
        let _ = write!(points, " {:.1},{:.1}", x(day), y(sum));
        let _ = write!(
            dots,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#E69F00\"><title>{} · {} requests, {} so far</title></circle>",
            x(day),
            y(sum),
            d.date,
            thousands(d.requests),
            whole(sum)
        );
    }
    let _ = write!(
        html,
        "<polyline points=\"{points}\" fill=\"none\" stroke=\"#E69F00\" stroke-width=\"2.5\"/>{dots}\
         <line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#D55E00\" stroke-width=\"2\"><title>allocation {}</title></line>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">allocation</text>\
         <text x=\"{left}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
         </svg><ul class=\"legend\"><li><span style=\"background:#E69F00\"></span>requests so far</li>\
         <li><span style=\"background:#0072B2\"></span>projection</li>\
         <li><span style=\"background:#56B4E9;opacity:.5\"></span>its range</li>\
         <li><span style=\"background:#D55E00\"></span>allocation</li></ul></section>",
        width - pad,
        y(report.allocation as f64),
        y(report.allocation as f64),
        thousands(report.allocation as i64),
        width - pad,
        y(report.allocation as f64) - 5.0,
        height - 8.0,
        report.period_first_day,
        width - pad,
        height - 8.0,
        report.period_last_day,
    );
    html.push('\n');
}

fn allowance_clients(html: &mut String, report: &Allowance) {
    html.push_str(
        "<section><h2>OAuth clients, by their projection</h2><table><thead><tr><th>OAuth client</th>\
         <th class=\"n\">so far</th><th class=\"n\">projected</th><th class=\"n\">% of projection</th>\
         <th class=\"n\">same days before</th><th class=\"n\">change</th></tr></thead><tbody>",
    );
    for c in &report.clients {
        let _ = write!(
            html,
            "<tr data-client=\"{id}\"><td>{name}<br><span class=\"id\">{id}</span></td>\
             <td class=\"n\" data-field=\"clientRequestsToDate\">{}</td>\
             <td class=\"n\" data-field=\"clientProjected\">{}</td>\
             <td class=\"n\">{:.1} %</td>\
             <td class=\"n\" data-field=\"clientPreviousRequests\">{}</td><td class=\"n\">{}</td></tr>",
            thousands(c.requests_to_date),
            whole(c.projected),
            c.share_of_projection * 100.0,
            thousands(c.previous_requests),
            c.change
                .map(|x| format!("{:+.0} %", x * 100.0))
                .unwrap_or_else(|| "new".into()),
            id = escape(&c.oauth_client_id),
            name = escape(&c.oauth_client_name),
        );
    }
    html.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tally::Tally;

    #[test]
    fn the_page_fetches_nothing_and_escapes_what_the_service_named() {
        let mut t = Tally::default();
        t.add(
            "a",
            "<script>alert(1)</script>",
            "GET",
            "api/v2/users",
            100,
            7,
        );
        t.add_day("a", "", "2026-11-30".parse().unwrap(), 7);
        let days = DayWindow::new("2026-11-30".parse().unwrap(), "2026-11-30".parse().unwrap());
        let clients = t.finish(5, days, None);
        let mut out = Vec::new();
        let page = Page {
            window: "2026-11-30/2026-11-30",
            days,
            source: "demo data",
            compared: None,
        };
        write(&mut out, &page, &clients).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
        assert!(
            !html.contains("<script"),
            "no script, and names are escaped"
        );
        assert!(html.contains("&lt;script&gt;"));
        for fetch in ["http:", "https:", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        assert!(html.contains("data-field=\"requestCount\">100<"));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn the_allowance_page_fetches_nothing_and_escapes_what_the_service_named() {
        let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let report = Allowance {
            estimate: true,
            period_first_day: day("2026-11-01"),
            period_last_day: day("2026-11-30"),
            as_of: day("2026-11-03"),
            days_elapsed: 2,
            days_left: 28,
            allocation: 1_000,
            allocation_source: "--allocation".into(),
            requests_to_date: 200,
            share_to_date: 0.2,
            projected: 3_000.4,
            projected_low: 2_500.0,
            projected_high: 3_600.0,
            projected_share: 3.0,
            projected_overage: 2_000.4,
            run_rate: 3_000.0,
            excluded_clients: vec!["<b>".into()],
            clients: vec![crate::analysis::allowance::ClientPart {
                oauth_client_id: "a\"><script>".into(),
                oauth_client_name: "<script>alert(1)</script>".into(),
                requests_to_date: 200,
                projected: 3_000.4,
                share_of_projection: 1.0,
                previous_requests: 0,
                change: None,
            }],
            daily: vec![
                crate::analysis::allowance::DayRequests {
                    date: day("2026-11-01"),
                    requests: 120,
                },
                crate::analysis::allowance::DayRequests {
                    date: day("2026-11-02"),
                    requests: 80,
                },
            ],
        };
        let mut out = Vec::new();
        allowance(&mut out, &report, "demo data").unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
        assert!(!html.contains("<script"), "names are escaped");
        assert!(html.contains("Left out: &lt;b&gt;."), "{html}");
        for fetch in ["http:", "https:", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        assert!(html.contains("data-field=\"projected\">3,000<"), "{html}");
        assert!(html.contains("data-field=\"clientProjected\">3,000<"));
        assert!(html.contains("Projected overage 2,000 requests"));
        // The line through the days so far: the origin and two days.
        let line = html.split("<polyline points=\"").nth(1).unwrap();
        assert_eq!(line.split('"').next().unwrap().split(' ').count(), 3);
    }
}
