//! The billing period's figures from a source of rows: the requests so far against the
//! org's fair-use allocation, the projection to the period's end (from the same weekdays of
//! the recent weeks, with a low–high range, beside the naive run rate), the projected
//! overage, and per OAuth client who drives it. `allowance`, `check` and `serve` read it.
//! An estimate: the jobs count every request, the built-in clients' too, and Genesys says
//! they are not billing data.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use usage_ext::DayWindow;

use crate::analysis::allowance::{
    Allowances, ClientPart, DayRequests, Period, PeriodArg, Report, SHIPPED, WEEKS, project,
};
use crate::exit::Failure;
use crate::lake::schema::Column;
use crate::progress::Progress;
use crate::source::Source;
use crate::source::api::today;
use crate::source::row::Ask;

/// The allocation and where it came from, resolved before anything is sent.
pub struct Allocation {
    pub allocation: u64,
    pub source: String,
}

/// The allocation of `--licenses` (at the table of `allowances`, else the shipped one) or
/// of `--allocation`.
pub fn allocation_of(
    licenses: Option<&str>,
    allocation: Option<u64>,
    allowances: Option<&std::path::Path>,
) -> Result<Allocation, Failure> {
    if let Some(allocation) = allocation {
        if allocation == 0 {
            return Err(Failure::Usage(
                "--allocation: give the requests allowed, above 0".into(),
            ));
        }
        return Ok(Allocation {
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
    Ok(Allocation {
        allocation,
        source: format!(
            "--licenses {licenses} at the allowances of {} (read {})",
            table.source, table.read
        ),
    })
}

/// Which period, seen from which day, leaving out which clients.
pub struct PeriodAsk {
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

/// The days a report looks at: the period, the day it is seen from, the period before.
#[derive(Clone, Copy)]
struct Frame {
    period: Period,
    as_of: NaiveDate,
    before: Period,
}

impl Frame {
    /// The period `args` names, seen from its day (today, `--as-of`, or the previous
    /// period's end); refused (exit 2) when it cannot be.
    fn of(args: &PeriodAsk) -> Result<Self, Failure> {
        let today = today();
        let asked = args.as_of.unwrap_or(today);
        if asked > today {
            return Err(Failure::Usage(format!(
                "--as-of {asked}: a day after today ({today}) has no complete days before it yet"
            )));
        }
        let holding = Period::holding(asked, args.billing_day).ok_or_else(|| {
            Failure::Usage(format!("--as-of {asked}: no billing period holds it"))
        })?;
        let (period, as_of) = match args.period {
            PeriodArg::Current => (holding, asked),
            PeriodArg::Previous => {
                let previous = holding.previous().ok_or_else(|| {
                    Failure::Usage("--period previous: before the calendar".into())
                })?;
                (previous, previous.end)
            }
        };
        let before = period.previous().ok_or_else(|| {
            Failure::Usage("the period before reaches before the calendar".into())
        })?;
        Ok(Self {
            period,
            as_of,
            before,
        })
    }

    /// The days read: the recent weeks for the weekdays and the period before for the
    /// change, up to the day before `as_of`.
    fn days_read(&self) -> (NaiveDate, NaiveDate) {
        let recent = self
            .as_of
            .checked_sub_days(Days::new(WEEKS * 7))
            .unwrap_or(self.before.start);
        let first = self.before.start.min(recent);
        (first, self.as_of.pred_opt().unwrap_or(self.as_of))
    }
}

/// The report of `args` from `source` (from the API, one daily job per 90 days).
pub async fn compute(
    source: &Source,
    progress: &Progress,
    args: &PeriodAsk,
    plan: &Allocation,
) -> Result<Report, Failure> {
    let frame = Frame::of(args)?;
    let clients = requests_by_day(source, progress, args, &frame).await?;
    Ok(summarize(clients, &frame, args, plan))
}

/// Each client's requests day by day over the days the frame reads, the excluded clients
/// left out.
async fn requests_by_day(
    source: &Source,
    progress: &Progress,
    args: &PeriodAsk,
    frame: &Frame,
) -> Result<HashMap<String, Daily>, Failure> {
    let (mut first, last) = frame.days_read();
    // An early --as-of gets what is left of the weeks before it: the dataset's days, or the
    // year the API keeps.
    let (earliest, said) = source.earliest();
    if first < earliest {
        first = earliest;
        progress.note(&format!(
            "{said} {first}; the projection and the change use the days from there"
        ));
    }
    let mut clients: HashMap<String, Daily> = HashMap::new();
    let Some(days) = DayWindow::new(first, last) else {
        return Ok(clients);
    };
    source.check_days(days, "--as-of")?;
    let asks = [Ask {
        days,
        columns: vec![
            Column::OauthClientId,
            Column::OauthClientName,
            Column::RequestCount,
        ],
        daily: true,
        needs: vec![Column::OauthClientId],
        purpose: "the allowance per OAuth client",
    }];
    source
        .rows(&asks, args.concurrency, |_, row| {
            let Some(date) = row.date else {
                return Err(Failure::Malformed(format!(
                    "a row of a daily job has no date: {:?}",
                    row.to_model()
                )));
            };
            let id = row.text(Column::OauthClientId);
            if args.exclude.iter().any(|x| x == id) {
                return Ok(());
            }
            let client = clients.entry(id.to_string()).or_default();
            if client.name.is_empty() {
                client.name = row.text(Column::OauthClientName).to_string();
            }
            *client.days.entry(date).or_default() += row.count(Column::RequestCount) as f64;
            Ok(())
        })
        .await?;
    Ok(clients)
}

/// The period's figures, org-wide and per client, from the clients' days.
fn summarize(
    clients: HashMap<String, Daily>,
    frame: &Frame,
    args: &PeriodAsk,
    plan: &Allocation,
) -> Report {
    let Frame {
        period,
        as_of,
        before,
    } = *frame;
    let elapsed = u32::try_from((as_of - period.start).num_days()).unwrap_or(0);
    let same_days_before = before
        .start
        .checked_add_days(Days::new(u64::from(elapsed)))
        .unwrap_or(before.end);
    let sum = |days: &BTreeMap<NaiveDate, f64>, range: std::ops::Range<NaiveDate>| -> i64 {
        days.range(range)
            .fold(0i64, |sum, (_, v)| sum.saturating_add(*v as i64))
    };
    let mut org: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for client in clients.values() {
        for (day, requests) in &client.days {
            *org.entry(*day).or_default() += requests;
        }
    }
    let total = project(&org, period, as_of);
    let requests_to_date = sum(&org, period.start..as_of);
    let mut parts: Vec<ClientPart> = clients
        .into_iter()
        .map(|(id, client)| {
            let projection = project(&client.days, period, as_of);
            let previous = sum(&client.days, before.start..same_days_before);
            let now = sum(&client.days, period.start..as_of);
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
    Report {
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
    }
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}
