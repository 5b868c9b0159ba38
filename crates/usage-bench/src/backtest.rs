//! `genesys-usage allowance` backtested over the demo year: for each complete billing period
//! of the last year (billing days 1, 8, 15 and 22, so four phases of the month), the
//! projection the tool made after 7, 14 and 21 days (`--as-of`) against the period's actual
//! total (`--period previous` once it was over). Printed: the median absolute error of the
//! projection and of the naive run rate side by side, their ratio, and how often the actual
//! total fell inside the projection's low–high range. The demo org (usage-fake's default
//! seed) has a weekly pattern, a growing client, a runaway integration and a month-end batch
//! (usage-fake's README); the numbers change from day to day as the year moves on.

use chrono::{Datelike as _, Days, Months, NaiveDate};
use std::path::Path;
use usage_fake::{FakeConfig, FakeService};

use crate::cli::tool;

const BILLING_DAYS: [u32; 4] = [1, 8, 15, 22];
const AFTER: [u64; 3] = [7, 14, 21];
/// The projection's recent weeks: a period is backtested where they fall inside the year
/// the API keeps, as of its earliest projection.
const WEEKS_BEFORE: u64 = 28;

async fn allowance(
    tool: &Path,
    fake: &FakeService,
    args: &[String],
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let out = tokio::process::Command::new(tool)
        .arg("allowance")
        .args(args)
        .args(["--allocation", "1", "--format", "json"])
        .args(["--base-url", &fake.base_url()])
        .env_clear()
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
        .kill_on_drop(true)
        .output()
        .await?;
    if !out.status.success() {
        return Err(format!(
            "genesys-usage allowance {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn number(report: &serde_json::Value, field: &str) -> Result<f64, Box<dyn std::error::Error>> {
    report[field]
        .as_f64()
        .ok_or_else(|| format!("the report has no number {field}: {report}").into())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub async fn run() -> crate::Result {
    let tool = tool().await?;
    let fake = FakeService::start(FakeConfig::default()).await?;
    let today = chrono::Utc::now().date_naive();
    let earliest = usage_ext::earliest_first_day(today);
    // Complete periods: over before yesterday's data, their earliest projection's weeks
    // inside the year.
    let mut periods = Vec::new();
    let first_start = earliest
        .checked_add_days(Days::new(WEEKS_BEFORE - AFTER[0]))
        .ok_or("no first day")?;
    for billing_day in BILLING_DAYS {
        let mut start = first_start.with_day(billing_day).ok_or("no billing day")?;
        if start < first_start {
            start = start
                .checked_add_months(Months::new(1))
                .ok_or("no period")?;
        }
        loop {
            let end = start
                .checked_add_months(Months::new(1))
                .ok_or("no period")?;
            if end > today {
                break;
            }
            periods.push((billing_day, start, end));
            start = end;
        }
    }
    println!(
        "allowance backtest: {} complete billing periods of the demo year (billing days {:?}), as of {today}",
        periods.len(),
        BILLING_DAYS
    );
    // [after] -> (projection errors, run-rate errors, inside the range)
    let mut errors: Vec<(Vec<f64>, Vec<f64>, usize)> = vec![(Vec::new(), Vec::new(), 0); 3];
    for &(billing_day, start, end) in &periods {
        let day = billing_day.to_string();
        let whole = allowance(
            &tool,
            &fake,
            &[
                "--billing-day".into(),
                day.clone(),
                "--period".into(),
                "previous".into(),
                "--as-of".into(),
                end.to_string(),
            ],
        )
        .await?;
        if whole["periodFirstDay"].as_str() != Some(start.to_string().as_str()) {
            return Err(
                format!("the period before {end} is not the one from {start}: {whole}").into(),
            );
        }
        let actual = number(&whole, "requestsToDate")?;
        for (i, after) in AFTER.iter().enumerate() {
            let as_of: NaiveDate = start.checked_add_days(Days::new(*after)).ok_or("no day")?;
            let report = allowance(
                &tool,
                &fake,
                &[
                    "--billing-day".into(),
                    day.clone(),
                    "--as-of".into(),
                    as_of.to_string(),
                ],
            )
            .await?;
            let (projection, run_rate, inside) = &mut errors[i];
            projection.push((number(&report, "projected")? - actual).abs() / actual);
            run_rate.push((number(&report, "runRate")? - actual).abs() / actual);
            let range = number(&report, "projectedLow")?..=number(&report, "projectedHigh")?;
            if range.contains(&actual) {
                *inside += 1;
            }
        }
    }
    let n = periods.len().max(1);
    println!(
        "{:>10}  {:>22}  {:>22}  {:>8}  {:>16}",
        "after", "projection median err", "run rate median err", "ratio", "actual in range"
    );
    for (i, after) in AFTER.iter().enumerate() {
        let (projection, run_rate, inside) = &mut errors[i];
        let p = median(projection);
        let r = median(run_rate);
        println!(
            "{:>7} d  {:>20.2} %  {:>20.2} %  {:>7.2}x  {:>14.0} %",
            after,
            p * 100.0,
            r * 100.0,
            p / r,
            *inside as f64 * 100.0 / n as f64
        );
    }
    let (projection, run_rate, inside) = &mut errors[0];
    let ratio = median(projection) / median(run_rate);
    let coverage = *inside as f64 / n as f64;
    println!(
        "target at day 7: projection error <= 0.70x the run rate's ({ratio:.2}x: {}), actual inside the range in >= 80 % ({:.0} %: {})",
        if ratio <= 0.7 { "met" } else { "NOT met" },
        coverage * 100.0,
        if coverage >= 0.8 { "met" } else { "NOT met" }
    );
    Ok(())
}
