//! The report per OAuth client from a source of rows, with the trend at a known cost:
//! besides the window's totals per client and endpoint, the 429s day by day and the totals
//! of the window of the same length before, when the source holds it. From the API that is
//! one job per 90 days of each; from a dataset, one pass over the window (its rows are
//! daily already) and one over the window before. `report` and `check` read it.

use chrono::{Days, NaiveDate};
use usage_ext::DayWindow;

use crate::analysis::limits::{self, OrgLimit};
use crate::analysis::tally::{ClientReport, Tally};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::progress::Progress;
use crate::source::Source;
use crate::source::row::{Ask, Row};

/// Which of the trend's parts a report asks for, besides the totals.
#[derive(Clone, Copy)]
pub struct Wants {
    /// The 429s day by day.
    pub daily: bool,
    /// The window before, for the change.
    pub before: bool,
    /// Each client's endpoints (a dataset must then be grouped by them too).
    pub endpoints: bool,
}

/// A report's days, its clients, and the window compared with.
pub struct ClientsReport {
    pub days: DayWindow,
    pub clients: Vec<ClientReport>,
    pub before: Option<DayWindow>,
}

/// What each ask of a report is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The window's totals per client and endpoint.
    Totals,
    /// The window's 429s per client and day.
    Daily,
    /// The previous window's totals per client and endpoint.
    Before,
}

/// The window of the same length just before `days`.
pub fn previous_window(days: DayWindow) -> Option<DayWindow> {
    let last = days.first().pred_opt()?;
    let first = last.checked_sub_days(Days::new(u64::from(days.days()) - 1))?;
    DayWindow::new(first, last)
}

const PURPOSE: &str = "a report per OAuth client and endpoint";

/// The report of `days` from `source`, with the parts `wants` asks for; `top` endpoints
/// per client; jobs `concurrency` at a time.
/// Puts on each client of `report` the limits it came near in the report's window (one
/// request to the API; a dataset keeps none yet), and returns the org's limits by hours.
/// Why there are none, when the source cannot say, is the error: the usage stands without.
pub async fn near_limits(
    source: &Source,
    report: &mut ClientsReport,
) -> Result<Vec<OrgLimit>, String> {
    let records = source
        .rate_limit_records(report.days)
        .await
        .map_err(|why| why.to_string())?;
    let near = limits::per_entity(&records);
    for client in &mut report.clients {
        if let Some(limits) = near.get(&client.oauth_client_id) {
            client.limits = limits.clone();
            client.near_limit_hours = Some(limits::distinct_hours(limits));
        }
    }
    let clients: std::collections::HashSet<&str> = report
        .clients
        .iter()
        .map(|c| c.oauth_client_id.as_str())
        .collect();
    Ok(limits::org_top(&near, |entity| clients.contains(entity)))
}

pub async fn clients(
    source: &Source,
    progress: &Progress,
    days: DayWindow,
    top: usize,
    concurrency: usize,
    wants: Wants,
) -> Result<ClientsReport, Failure> {
    source.check_days(days, "--since/--interval")?;
    let before = match previous_window(days).filter(|_| wants.before) {
        Some(before) => match source.lacks(before) {
            None => Some(before),
            Some(why) => {
                progress.note(&format!(
                    "the window before, {before}, {why}; no change is shown"
                ));
                None
            }
        },
        None => None,
    };
    let endpoint_columns = Column::ENDPOINT_TOTALS.to_vec();
    let needs = if wants.endpoints {
        vec![
            Column::OauthClientId,
            Column::TemplateUri,
            Column::HttpMethod,
        ]
    } else {
        vec![Column::OauthClientId]
    };
    let mut asks = vec![Ask {
        days,
        columns: endpoint_columns.clone(),
        daily: false,
        needs: needs.clone(),
        purpose: PURPOSE,
    }];
    let mut parts = vec![Part::Totals];
    if wants.daily {
        asks.push(Ask {
            days,
            columns: vec![
                Column::OauthClientId,
                Column::OauthClientName,
                Column::Status429,
            ],
            daily: true,
            needs: vec![Column::OauthClientId],
            purpose: PURPOSE,
        });
        parts.push(Part::Daily);
    }
    if let Some(before) = before {
        asks.push(Ask {
            days: before,
            columns: endpoint_columns,
            daily: false,
            needs,
            purpose: PURPOSE,
        });
        parts.push(Part::Before);
    }
    let (mut now, mut then) = (Tally::default(), Tally::default());
    source
        .rows(&asks, concurrency, |index, row| {
            add(&mut now, &mut then, parts[index], row, days)
        })
        .await?;
    let clients = now.finish(top, wants.daily.then_some(days), before.map(|_| then));
    Ok(ClientsReport {
        days,
        clients,
        before,
    })
}

fn add(
    now: &mut Tally,
    then: &mut Tally,
    part: Part,
    row: &Row<'_>,
    days: DayWindow,
) -> Result<(), Failure> {
    let (id, name) = (
        row.text(Column::OauthClientId),
        row.text(Column::OauthClientName),
    );
    let (method, uri) = (row.text(Column::HttpMethod), row.text(Column::TemplateUri));
    let (requests, limited) = (
        row.count(Column::RequestCount),
        row.count(Column::Status429),
    );
    match part {
        Part::Totals => now.add(id, name, method, uri, requests, limited),
        Part::Before => then.add(id, name, method, uri, requests, limited),
        Part::Daily => {
            let date: Option<NaiveDate> = row.date.filter(|d| days.contains(*d));
            match date {
                Some(date) => now.add_day(id, name, date, limited),
                None => {
                    return Err(Failure::Malformed(format!(
                        "a row of the daily job has no date inside {days}: {:?}",
                        row.to_model()
                    )));
                }
            }
        }
    }
    Ok(())
}
