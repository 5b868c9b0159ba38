//! `allowance`: the billing period's requests against the org's fair-use allocation, the
//! projection to the period's end (from the same weekdays of the recent weeks, with a
//! low–high range, beside the naive run rate), the projected overage, and per OAuth client
//! who drives it. An estimate: the jobs count every request, the built-in clients' too, and
//! Genesys says they are not billing data.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use serde_json::json;
use usage_ext::{DayWindow, split_days};

use crate::analysis::allowance::{
    Allowances, ClientPart, DayRequests, Period, Report, SHIPPED, WEEKS, project,
};
use crate::cli::resolve;
use crate::cli::{AllocationArgs, AllowanceArgs, Format, PeriodArg};
use crate::exit::Failure;
use crate::render::html;
use crate::render::output::{thousands, whole, write_table};
use crate::render::untrusted;
use crate::session::Session;
use crate::source::api as windowed;
use crate::source::dataset::Column;

/// The allocation and where it came from, resolved before anything is sent.
pub struct Plan {
    allocation: u64,
    source: String,
}

/// Checks the licenses (or the allocation) and the allowance table; exit 2 on a bad one.
pub fn plan(args: &AllowanceArgs) -> Result<Plan, Failure> {
    plan_from(&args.allocation)
}

/// The allocation the flags give.
pub fn plan_from(args: &AllocationArgs) -> Result<Plan, Failure> {
    plan_of(
        args.licenses.as_deref(),
        args.allocation,
        args.allowances.as_deref(),
    )
}

/// The allocation of `--licenses` (at the table of `allowances`, else the shipped one) or
/// of `--allocation`.
pub fn plan_of(
    licenses: Option<&str>,
    allocation: Option<u64>,
    allowances: Option<&std::path::Path>,
) -> Result<Plan, Failure> {
    if let Some(allocation) = allocation {
        if allocation == 0 {
            return Err(Failure::Usage(
                "--allocation: give the requests allowed, above 0".into(),
            ));
        }
        return Ok(Plan {
            allocation,
            source: "--allocation".into(),
        });
    }
    let (text, place) = match allowances {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("--allowances {}: {e}", path.display())))?,
            path.display().to_string(),
        ),
        None => (
            SHIPPED.to_string(),
            "the shipped allowance table".to_string(),
        ),
    };
    let table = Allowances::parse(&text, &place).map_err(Failure::Usage)?;
    let Some(licenses) = licenses else {
        return Err(Failure::Usage(
            "the allocation needs --licenses NAME=COUNT,... or --allocation N".into(),
        ));
    };
    let allocation = table.allocation(licenses).map_err(Failure::Usage)?;
    Ok(Plan {
        allocation,
        source: format!(
            "--licenses {licenses} at the allowances of {} (read {})",
            table.source, table.read
        ),
    })
}

/// Which period, seen from which day, leaving out which clients.
pub struct Ask {
    pub billing_day: u32,
    pub period: PeriodArg,
    pub as_of: Option<NaiveDate>,
    pub exclude: Vec<String>,
    pub concurrency: usize,
}

/// Requests per client per day, and the client's name.
#[derive(Default)]
struct Daily {
    name: String,
    days: BTreeMap<NaiveDate, f64>,
}

pub async fn exec(session: &Session, args: &AllowanceArgs, plan: &Plan) -> Result<(), Failure> {
    let ask = Ask {
        billing_day: args.allocation.billing_day,
        period: args.period,
        as_of: args.as_of,
        exclude: args.exclude.clone(),
        concurrency: args.concurrency.get(),
    };
    let report = compute(session, &ask, plan).await?;
    write(session, &report)
}

/// The report of `ask`, from the API (one daily job per 90 days) or the session's dataset.
pub async fn compute(session: &Session, args: &Ask, plan: &Plan) -> Result<Report, Failure> {
    let today = resolve::today();
    let asked = args.as_of.unwrap_or(today);
    if asked > today {
        return Err(Failure::Usage(format!(
            "--as-of {asked}: a day after today ({today}) has no complete days before it yet"
        )));
    }
    let holding = Period::holding(asked, args.billing_day)
        .ok_or_else(|| Failure::Usage(format!("--as-of {asked}: no billing period holds it")))?;
    let (period, as_of) = match args.period {
        PeriodArg::Current => (holding, asked),
        PeriodArg::Previous => {
            let previous = holding
                .previous()
                .ok_or_else(|| Failure::Usage("--period previous: before the calendar".into()))?;
            (previous, previous.end)
        }
    };
    let before = period
        .previous()
        .ok_or_else(|| Failure::Usage("the period before reaches before the calendar".into()))?;
    // The recent weeks for the weekdays, and the previous period's same days for the change.
    let recent = as_of
        .checked_sub_days(Days::new(WEEKS * 7))
        .unwrap_or(before.start);
    let mut first = before.start.min(recent);
    let last = as_of.pred_opt().unwrap_or(as_of);
    let mut clients: HashMap<String, Daily> = HashMap::new();
    let mut add = |id: &str, name: &str, date: NaiveDate, requests: i64| {
        if args.exclude.iter().any(|x| x == id) {
            return;
        }
        let client = clients.entry(id.to_string()).or_default();
        if client.name.is_empty() {
            client.name = name.to_string();
        }
        *client.days.entry(date).or_default() += requests as f64;
    };
    // An early --as-of gets what is left of the weeks before it: the dataset's days, or the
    // year the API keeps.
    let (earliest, source) = match &session.history {
        Some(history) => {
            history.require(&["OauthClientId"], "the allowance per OAuth client")?;
            (history.held().first(), "--from: the dataset starts")
        }
        None => (
            usage_ext::earliest_first_day(today),
            "the Usage API keeps a year, from",
        ),
    };
    if first < earliest {
        first = earliest;
        session.progress.note(&format!(
            "{source} {first}; the projection and the change use the days from there"
        ));
    }
    if let Some(history) = &session.history {
        if let Some(days) = DayWindow::new(first, last) {
            history.check_window(days, "--as-of")?;
            let columns = [
                Column::OauthClientId,
                Column::OauthClientName,
                Column::RequestCount,
            ];
            let missing = history
                .rows(days, &columns, |row| {
                    add(
                        row.text(Column::OauthClientId),
                        row.text(Column::OauthClientName),
                        row.date,
                        row.count(Column::RequestCount),
                    );
                    Ok(())
                })
                .await?;
            crate::commands::report::note_missing(session, &missing);
        }
    } else if let Some(days) = DayWindow::new(first, last) {
        let windows = split_days(days, today).map_err(|e| Failure::Usage(e.to_string()))?;
        let mut jobs = Vec::new();
        for window in windows {
            let request = resolve::job_request(json!({
                "interval": window.interval(),
                "groupBy": ["OauthClientId"],
                "metrics": ["Requests"],
                "granularity": "Day",
            }))?;
            jobs.push((window, request));
        }
        let started = windowed::start_jobs(session, &session.queries, jobs, args.concurrency);
        windowed::each_row(session, started, |_, row| {
            let client = row.oauth_client.as_ref();
            let id = client.and_then(|c| c.id.as_deref()).unwrap_or_default();
            let name = client.and_then(|c| c.name.as_deref()).unwrap_or_default();
            let Some(date) = row.date else {
                return Err(Failure::Malformed(format!(
                    "a row of a daily job has no date: {row:?}"
                )));
            };
            add(id, name, date, row.request_count.unwrap_or(0));
            Ok(())
        })
        .await?;
        session.done();
    }

    let elapsed = u32::try_from((as_of - period.start).num_days()).unwrap_or(0);
    let same_days_before = before
        .start
        .checked_add_days(Days::new(u64::from(elapsed)))
        .unwrap_or(before.end);
    let to_date = |days: &BTreeMap<NaiveDate, f64>| -> i64 {
        days.range(period.start..as_of)
            .fold(0i64, |sum, (_, v)| sum.saturating_add(*v as i64))
    };
    let mut org: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for client in clients.values() {
        for (day, requests) in &client.days {
            *org.entry(*day).or_default() += requests;
        }
    }
    let total = project(&org, period, as_of);
    let requests_to_date = to_date(&org);
    let mut parts: Vec<ClientPart> = clients
        .into_iter()
        .map(|(id, client)| {
            let projection = project(&client.days, period, as_of);
            let previous: i64 = client
                .days
                .range(before.start..same_days_before)
                .fold(0i64, |sum, (_, v)| sum.saturating_add(*v as i64));
            let now = to_date(&client.days);
            ClientPart {
                oauth_client_id: id,
                oauth_client_name: client.name,
                requests_to_date: now,
                projected: projection.expected,
                share_of_projection: share(projection.expected, total.expected),
                previous_requests: previous,
                change: (previous > 0).then(|| (now as f64 - previous as f64) / previous as f64),
            }
        })
        .filter(|c| c.requests_to_date > 0 || c.projected > 0.0)
        .collect();
    parts.sort_by(|a, b| {
        b.projected
            .total_cmp(&a.projected)
            .then(a.oauth_client_id.cmp(&b.oauth_client_id))
    });
    let allocation = plan.allocation as f64;
    Ok(Report {
        estimate: true,
        period_first_day: period.start,
        period_last_day: period.last(),
        as_of,
        days_elapsed: elapsed,
        days_left: period.days().saturating_sub(elapsed),
        allocation: plan.allocation,
        allocation_source: plan.source.clone(),
        requests_to_date,
        share_to_date: share(requests_to_date as f64, allocation),
        projected: total.expected,
        projected_low: total.low,
        projected_high: total.high,
        projected_share: share(total.expected, allocation),
        projected_overage: (total.expected - allocation).max(0.0),
        run_rate: total.run_rate,
        excluded_clients: args.exclude.clone(),
        clients: parts,
        daily: org
            .range(period.start..as_of)
            .map(|(date, requests)| DayRequests {
                date: *date,
                requests: *requests as i64,
            })
            .collect(),
    })
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// A projected number of requests in CSV: rounded as the table and the page round it (half
/// away from zero, where `{:.0}` rounds half to even).
fn rounded(n: f64) -> String {
    (n.round() as i64).to_string()
}

fn write(session: &Session, report: &Report) -> Result<(), Failure> {
    let mut out = session.out()?;
    let source = session.data_source();
    write_to(&mut *out, session.format, session.csv, report, &source).map_err(Failure::output)
}

/// The report in `format`.
fn write_to(
    out: &mut dyn std::io::Write,
    format: Format,
    csv: crate::render::untrusted::CsvCells,
    report: &Report,
    source: &str,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            // The period's figures on every line, with the client's.
            for client in &report.clients {
                let mut line = serde_json::to_value(report).map_err(std::io::Error::other)?;
                if let Some(object) = line.as_object_mut() {
                    object.remove("clients");
                    object.remove("daily");
                    object.insert(
                        "client".into(),
                        serde_json::to_value(client).map_err(std::io::Error::other)?,
                    );
                }
                serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer
                .write_record([
                    "periodFirstDay",
                    "periodLastDay",
                    "asOf",
                    "allocation",
                    "requestsToDate",
                    "projected",
                    "projectedLow",
                    "projectedHigh",
                    "runRate",
                    "oauthClientId",
                    "oauthClientName",
                    "clientRequestsToDate",
                    "clientProjected",
                    "clientShareOfProjection",
                    "clientPreviousRequests",
                    "clientChange",
                ])
                .map_err(std::io::Error::other)?;
            for c in &report.clients {
                let record = [
                    report.period_first_day.to_string(),
                    report.period_last_day.to_string(),
                    report.as_of.to_string(),
                    report.allocation.to_string(),
                    report.requests_to_date.to_string(),
                    rounded(report.projected),
                    rounded(report.projected_low),
                    rounded(report.projected_high),
                    rounded(report.run_rate),
                    c.oauth_client_id.clone(),
                    c.oauth_client_name.clone(),
                    c.requests_to_date.to_string(),
                    rounded(c.projected),
                    format!("{:.6}", c.share_of_projection),
                    c.previous_requests.to_string(),
                    c.change.map(|x| format!("{x:.6}")).unwrap_or_default(),
                ];
                writer
                    .write_record(csv.record(&record))
                    .map_err(std::io::Error::other)?;
            }
            writer.flush()?;
        }
        Format::Html => html::allowance(out, report, source)?,
        Format::Table | Format::Openmetrics => {
            writeln!(
                out,
                "Fair-use allocation, billing period {} to {} (estimate), as of {}: {} days elapsed, {} left",
                report.period_first_day,
                report.period_last_day,
                report.as_of,
                report.days_elapsed,
                report.days_left
            )?;
            writeln!(
                out,
                "Allocation {} requests ({})",
                thousands(report.allocation as i64),
                untrusted::terminal(&report.allocation_source)
            )?;
            writeln!(
                out,
                "So far {} requests, {:.1} % of it",
                thousands(report.requests_to_date),
                report.share_to_date * 100.0
            )?;
            writeln!(
                out,
                "Projected at the period's end {} ({} to {}), {:.1} % of it; run rate {}",
                whole(report.projected),
                whole(report.projected_low),
                whole(report.projected_high),
                report.projected_share * 100.0,
                whole(report.run_rate)
            )?;
            if report.projected_overage > 0.0 {
                writeln!(
                    out,
                    "Projected overage {} requests",
                    whole(report.projected_overage)
                )?;
            } else {
                writeln!(out, "No overage projected")?;
            }
            writeln!(
                out,
                "Estimate: the Usage API counts every request, the built-in clients' included; Genesys bills from its own count{}",
                if report.excluded_clients.is_empty() {
                    String::new()
                } else {
                    format!("; left out: {}", report.excluded_clients.join(", "))
                }
            )?;
            writeln!(out)?;
            let rows: Vec<Vec<String>> = report
                .clients
                .iter()
                .map(|c| {
                    vec![
                        format!("{} ({})", c.oauth_client_name, c.oauth_client_id),
                        thousands(c.requests_to_date),
                        whole(c.projected),
                        format!("{:.1}", c.share_of_projection * 100.0),
                        c.change
                            .map(|x| format!("{:+.0} %", x * 100.0))
                            .unwrap_or_else(|| "new".into()),
                    ]
                })
                .collect();
            write_table(
                &mut *out,
                &[
                    "OAuth client (id)",
                    "so far",
                    "projected",
                    "% of projection",
                    "vs same days before",
                ],
                &rows,
                |c| c != "OAuth client (id)",
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
