//! The monthly fair-use allocation Genesys bills API overage against, and where a billing
//! period is heading: the allowance table (data, overridable), the org's allocation from
//! its licenses, the billing period from its billing day, and the projection of the days
//! left from the same weekdays of the recent weeks (contact-centre traffic is weekly),
//! beside the naive run rate.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Days, Months, NaiveDate};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// Which billing period `allowance` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    /// The period running (as of today, or --as-of).
    Current,
    /// The last complete one.
    Previous,
}

/// The table shipped with the tool: Genesys's published allowances, with their source and
/// the month they were read.
pub const SHIPPED: &str = include_str!("../../data/allowances.toml");

/// An allowance table: per license, the requests a billable user brings per month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowances {
    /// Where the numbers come from.
    pub source: String,
    /// When they were read there.
    pub read: String,
    pub licenses: BTreeMap<String, License>,
}

/// One license's monthly allowance per user.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    pub named: u64,
    #[serde(default)]
    pub concurrent: Option<u64>,
}

impl Allowances {
    /// Reads a table (the shipped one, or `--allowances FILE`); `place` names it in errors.
    pub fn parse(text: &str, place: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("{place}: {e}"))
    }

    /// The names `--licenses` takes: each license, and `NAME-concurrent` where there is a
    /// concurrent allowance.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (name, license) in &self.licenses {
            names.push(name.clone());
            if license.concurrent.is_some() {
                names.push(format!("{name}-concurrent"));
            }
        }
        names
    }

    /// The allowance of one `--licenses` name per user.
    fn per_user(&self, name: &str) -> Option<u64> {
        if let Some(license) = self.licenses.get(name) {
            return Some(license.named);
        }
        let base = name.strip_suffix("-concurrent")?;
        self.licenses.get(base)?.concurrent
    }

    /// The org's allocation for `--licenses cx3=250,cx1=40,cx3-concurrent=12`: each count
    /// times its allowance, summed. An unknown name is refused with the known ones.
    pub fn allocation(&self, licenses: &str) -> Result<u64, String> {
        let mut total = 0u64;
        for part in licenses.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, count) = part
                .split_once('=')
                .ok_or_else(|| format!("--licenses {part:?}: give NAME=COUNT, e.g. cx3=250"))?;
            let name = name.trim().to_ascii_lowercase();
            let count: u64 = count.trim().parse().map_err(|_| {
                format!("--licenses {part:?}: the count must be a whole number of users")
            })?;
            let per_user = self.per_user(&name).ok_or_else(|| {
                format!(
                    "--licenses: no license {name:?} in the allowance table; known: {}",
                    self.names().join(", ")
                )
            })?;
            total = total.saturating_add(per_user.saturating_mul(count));
        }
        if total == 0 {
            return Err("--licenses: no billable users given (e.g. cx3=250)".into());
        }
        Ok(total)
    }
}

/// A billing period: from its first day to the day before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    /// The day after its last.
    pub end: NaiveDate,
}

impl Period {
    /// The period that holds `day`, for a billing day of 1 to 28.
    pub fn holding(day: NaiveDate, billing_day: u32) -> Option<Self> {
        let this_month = day.with_day(billing_day)?;
        let start = if day >= this_month {
            this_month
        } else {
            this_month.checked_sub_months(Months::new(1))?
        };
        Some(Self {
            start,
            end: start.checked_add_months(Months::new(1))?,
        })
    }

    /// The period just before.
    pub fn previous(&self) -> Option<Self> {
        Some(Self {
            start: self.start.checked_sub_months(Months::new(1))?,
            end: self.start,
        })
    }

    pub fn days(&self) -> u32 {
        u32::try_from((self.end - self.start).num_days()).unwrap_or(0)
    }

    /// The last day.
    pub fn last(&self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.end)
    }
}

/// How many recent weeks each weekday's expectation is taken from.
pub const WEEKS: u64 = 4;

/// A projection of a period's total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// The expected total: to date, plus each day left expected from its weekday.
    pub expected: f64,
    /// The low and high ends: each day left at its weekday's lowest and highest recent day.
    pub low: f64,
    pub high: f64,
    /// The naive run rate: to date / days elapsed x days in the period.
    pub run_rate: f64,
}

/// Projects the total of `period` as of `as_of` (the days before it complete), from
/// `daily`, the requests of each complete day (a day absent from it counts as no data, not
/// as zero; the recent weeks' samples skip it).
pub fn project(daily: &BTreeMap<NaiveDate, f64>, period: Period, as_of: NaiveDate) -> Projection {
    let as_of = as_of.clamp(period.start, period.end);
    let to_date: f64 = daily.range(period.start..as_of).map(|(_, v)| v).sum();
    let elapsed = (as_of - period.start).num_days() as f64;
    let run_rate = if elapsed > 0.0 {
        to_date / elapsed * f64::from(period.days())
    } else {
        0.0
    };
    let (mut expected, mut low, mut high) = (to_date, to_date, to_date);
    let mut day = as_of;
    while day < period.end {
        // The same weekday in each of the recent weeks before `as_of`.
        let samples: Vec<f64> = (1..=WEEKS * 7)
            .filter_map(|back| as_of.checked_sub_days(Days::new(back)))
            .filter(|d| d.weekday() == day.weekday())
            .filter_map(|d| daily.get(&d).copied())
            .collect();
        if !samples.is_empty() {
            let mean = samples.iter().sum::<f64>() / samples.len() as f64;
            expected += mean;
            low += samples.iter().copied().fold(f64::INFINITY, f64::min);
            high += samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        }
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    Projection {
        expected,
        low,
        high,
        run_rate,
    }
}

/// One OAuth client's part.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientPart {
    pub oauth_client_id: String,
    pub oauth_client_name: String,
    pub requests_to_date: i64,
    pub projected: f64,
    pub share_of_projection: f64,
    /// The same days of the previous period.
    pub previous_requests: i64,
    /// (to date - previous) / previous; `None` when it had none then.
    pub change: Option<f64>,
}

/// Where the period stands and is heading.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub estimate: bool,
    pub period_first_day: NaiveDate,
    pub period_last_day: NaiveDate,
    pub as_of: NaiveDate,
    pub days_elapsed: u32,
    pub days_left: u32,
    pub allocation: u64,
    pub allocation_source: String,
    pub requests_to_date: i64,
    pub share_to_date: f64,
    pub projected: f64,
    pub projected_low: f64,
    pub projected_high: f64,
    pub projected_share: f64,
    pub projected_overage: f64,
    pub run_rate: f64,
    pub excluded_clients: Vec<String>,
    pub clients: Vec<ClientPart>,
    /// The org's requests on each day of the period so far.
    pub daily: Vec<DayRequests>,
}

/// The org's requests on one day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayRequests {
    pub date: NaiveDate,
    pub requests: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_shipped_table_reads_and_licenses_sum() {
        let table = Allowances::parse(SHIPPED, "allowances.toml").unwrap();
        assert!(table.source.contains("fair use policy"));
        assert_eq!(
            table
                .allocation("cx3=250,cx1=40,cx3-concurrent=12")
                .unwrap(),
            250 * 140_000 + 40 * 75_000 + 12 * 182_000
        );
        // The published example: one CX 3 concurrent license, 182,000 requests.
        assert_eq!(table.allocation("cx3-concurrent=1").unwrap(), 182_000);
        let unknown = table.allocation("cx9=1").unwrap_err();
        assert!(
            unknown.contains("cx3-concurrent") && unknown.contains("communicate"),
            "{unknown}"
        );
        assert!(
            table.allocation("ex-concurrent=1").is_err(),
            "EX has no concurrent allowance"
        );
        assert!(table.allocation("cx3=many").is_err());
        assert!(table.allocation("").is_err());
    }

    #[test]
    fn a_period_runs_from_the_billing_day_to_the_next() {
        let p = Period::holding(date("2026-12-03"), 21).unwrap();
        assert_eq!((p.start, p.end), (date("2026-11-21"), date("2026-12-21")));
        assert_eq!(p.days(), 30);
        let p = Period::holding(date("2026-12-21"), 21).unwrap();
        assert_eq!(p.start, date("2026-12-21"));
        let p = Period::holding(date("2026-03-01"), 1).unwrap();
        assert_eq!((p.start, p.days()), (date("2026-03-01"), 31));
        let previous = Period::holding(date("2026-01-10"), 15)
            .unwrap()
            .previous()
            .unwrap();
        assert_eq!(
            (previous.start, previous.end),
            (date("2025-11-15"), date("2025-12-15"))
        );
    }

    #[test]
    fn the_projection_follows_the_weekdays_and_the_run_rate_does_not() {
        // Weekdays 1,000, weekends 100, for eight weeks before a period of 4 weeks.
        let period = Period {
            start: date("2026-11-02"), // a Monday
            end: date("2026-11-30"),
        };
        let mut daily = BTreeMap::new();
        let mut day = date("2026-09-07");
        while day < period.end {
            let weekend = day.weekday().number_from_monday() > 5;
            daily.insert(day, if weekend { 100.0 } else { 1_000.0 });
            day = day.succ_opt().unwrap();
        }
        let actual: f64 = daily.range(period.start..period.end).map(|(_, v)| v).sum();
        // As of the first Saturday: five weekdays done, and the run rate overshoots.
        let p = project(&daily, period, date("2026-11-07"));
        assert_eq!(p.expected, actual);
        assert_eq!((p.low, p.high), (actual, actual));
        assert!(p.run_rate > actual * 1.2, "{p:?}");
        // A missing day is no sample, not a zero.
        daily.remove(&date("2026-10-31"));
        let p = project(&daily, period, date("2026-11-07"));
        assert_eq!(p.expected, actual);
    }
}
