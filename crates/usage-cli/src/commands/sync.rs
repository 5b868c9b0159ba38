//! `sync --to DIR|s3://…`: the org's daily usage as a Parquet dataset, kept up to date.
//!
//! The first run backfills `--since`; later runs start `--repull` days before the last
//! complete day of the state and end yesterday (UTC). Each day's rows become one file,
//! written whole (the old file or the new one, never half), and the state advances only
//! after all days of a job's window are in place, so a crash at any moment costs at most
//! the window being written, which the next run pulls again. The rows are asked for in
//! date order, so memory holds one page and one day, not the history.

use std::time::Instant;

use chrono::{Days, NaiveDate, Utc};
use serde_json::json;
use usage_ext::{DayWindow, MAX_HISTORY_DAYS, split_days};

use crate::cli::SyncArgs;
use crate::dataset::{self, Day};
use crate::exit::Failure;
use crate::output::thousands;
use crate::session::Session;
use crate::store::Store;
use crate::sync_state::{SCHEMA_VERSION, Shape, SyncState};
use crate::{resolve, windowed};

/// The first run's reach when `--since` is not given.
const DEFAULT_SINCE_DAYS: u32 = 90;

/// A sync resolved from its flags before anything is sent.
pub struct Plan {
    store: Store,
    shape: Shape,
    since: Option<u32>,
    repull: u32,
    page_size: u32,
    concurrency: usize,
}

/// Checks the flags and opens the target; refuses (exit 2) what cannot work.
pub fn plan(args: &SyncArgs, vars: &[(String, String)]) -> Result<Plan, Failure> {
    let since = args.since;
    if let Some(days) = since
        && days > MAX_HISTORY_DAYS
    {
        return Err(Failure::Usage(format!(
            "--since {days}d: the Usage API keeps one year; give at most {MAX_HISTORY_DAYS}d"
        )));
    }
    let window = since.unwrap_or(DEFAULT_SINCE_DAYS);
    if args.repull > window {
        return Err(Failure::Usage(format!(
            "--repull {}d is longer than the window of {window}d it re-pulls from",
            args.repull
        )));
    }
    let shape = Shape {
        group_by: args.group_by.clone(),
        granularity: "Day".into(),
        template_uris: args.template_uri.clone(),
        http_methods: args.http_method.clone(),
        platforms: args.platform.clone(),
        user_ids: args.user_id.clone(),
        oauth_client_ids: args.oauth_client_id.clone(),
    }
    .normalized();
    Ok(Plan {
        store: Store::open(&args.to, vars)?,
        shape,
        since,
        repull: args.repull,
        page_size: args.page_size,
        concurrency: args.concurrency.get(),
    })
}

/// What a run wrote, for its last line.
#[derive(Default)]
struct Written {
    days: u64,
    rows: u64,
    bytes: u64,
}

pub async fn exec(session: &Session, plan: Plan) -> Result<(), Failure> {
    let started = Instant::now();
    let store = &plan.store;
    let place = store.describe();
    store.check_writable().await?;
    let state_place = format!("{place}/{}", dataset::STATE_FILE);
    let state = match store.get(dataset::STATE_FILE).await? {
        Some(bytes) => {
            let state = SyncState::parse(&bytes, &state_place)?;
            state.check_same(&session.scope, &plan.shape, &state_place)?;
            Some(state)
        }
        None => None,
    };
    let removed = store.remove_leftovers()?;
    if removed > 0 {
        session.progress.note(&format!(
            "sync: removed {removed} unfinished file(s) an interrupted run left"
        ));
    }

    let today = resolve::today();
    let yesterday = resolve::days_before(today, 1, "sync")?;
    let earliest = resolve::days_before(today, MAX_HISTORY_DAYS, "sync")?;
    let asked = resolve::days_before(today, plan.since.unwrap_or(DEFAULT_SINCE_DAYS), "--since")?;
    let mut first = match &state {
        None => asked,
        Some(state) => {
            let repull_from = state
                .last_complete_day
                .checked_add_days(Days::new(1))
                .and_then(|d| d.checked_sub_days(Days::new(u64::from(plan.repull))))
                .unwrap_or(state.last_complete_day);
            match plan.since {
                Some(_) => repull_from.min(asked),
                None => repull_from,
            }
        }
    };
    if first < earliest {
        session.progress.note(&format!(
            "sync: the days before {earliest} are past the year the Usage API keeps; starting there"
        ));
        first = earliest;
    }
    let Some(days) = DayWindow::new(first, yesterday) else {
        session.progress.note(&format!(
            "sync: {place} is up to date (last complete day {yesterday})"
        ));
        return Ok(());
    };
    let windows = split_days(days, today).map_err(|e| Failure::Usage(e.to_string()))?;
    let request = resolve::job_request(json!({
        "interval": windows[0].interval(),
        "groupBy": plan.shape.group_by,
        "metrics": ["Requests", "Status200", "Status300", "Status400", "Status429", "Status500"],
        "granularity": "Day",
        "templateUris": plan.shape.template_uris,
        "httpMethods": plan.shape.http_methods,
        "platforms": plan.shape.platforms,
        "userIds": plan.shape.user_ids,
        "oauthClientIds": plan.shape.oauth_client_ids,
        // Date order lets a day be written as soon as the next begins.
        "sortBy": [{"fieldName": "date", "order": "Asc"}],
    }))?;
    let queries = session
        .queries
        .clone()
        .with_page_size(plan.page_size)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let total = windows.len();
    let mut jobs = windowed::start(session, &queries, &request, windows, plan.concurrency);
    let mut state = state.unwrap_or(SyncState {
        schema_version: SCHEMA_VERSION,
        scope: session.scope.clone(),
        shape: plan.shape.clone(),
        first_day: first,
        last_complete_day: first,
        updated_at: Utc::now(),
    });
    let mut written = Written::default();
    let mut done = 0;
    while let Some((window, pages)) = jobs.next().await {
        let mut pages = pages?;
        let synced_at = Utc::now();
        let mut day = Day::new(window.first());
        while let Some(page) = pages.next_page().await {
            for row in page? {
                let date = row.date.ok_or_else(|| {
                    lie(format!(
                        "a row of the daily job for {window} has no date: {row:?}"
                    ))
                })?;
                if !window.contains(date) {
                    return Err(lie(format!(
                        "the job for {window} sent a row of {date}, outside its interval"
                    )));
                }
                if date < day.date {
                    return Err(lie(format!(
                        "the job for {window} sent a row of {date} after rows of {}: not in \
                         the date order asked for",
                        day.date
                    )));
                }
                while day.date < date {
                    day = write_day(store, day, synced_at, &mut written).await?;
                }
                day.add(&row).map_err(lie)?;
                written.rows += 1;
            }
            session.progress.status(&format!(
                "sync · window {}/{total} · {} · {} rows",
                done + 1,
                day.date,
                thousands(written.rows as i64)
            ));
        }
        // The window's last days, with rows or without: each day of it gets its file.
        loop {
            let last = day.date >= window.last();
            day = write_day(store, day, synced_at, &mut written).await?;
            if last {
                break;
            }
        }
        state.first_day = state.first_day.min(window.first());
        state.last_complete_day = state.last_complete_day.max(window.last());
        state.updated_at = Utc::now();
        store.put(dataset::STATE_FILE, state.to_bytes()).await?;
        done += 1;
    }
    session.done();
    session.progress.note(&format!(
        "sync: {} days written ({first} to {yesterday}), {} rows, {} bytes in {:.1} s to {place}; \
         last complete day {}",
        written.days,
        thousands(written.rows as i64),
        thousands(written.bytes as i64),
        started.elapsed().as_secs_f64(),
        state.last_complete_day,
    ));
    Ok(())
}

/// Writes `day` whole and returns the next day, empty.
async fn write_day(
    store: &Store,
    day: Day,
    synced_at: chrono::DateTime<Utc>,
    written: &mut Written,
) -> Result<Day, Failure> {
    let bytes = day
        .encode(synced_at)
        .map_err(|e| Failure::Io(std::io::Error::other(format!("encoding {}: {e}", day.date))))?;
    written.bytes += bytes.len() as u64;
    written.days += 1;
    store.put(&dataset::day_path(day.date), bytes).await?;
    let next: NaiveDate = day
        .date
        .succ_opt()
        .ok_or_else(|| Failure::Usage("the calendar ends".into()))?;
    Ok(Day::new(next))
}

/// The service answered what it cannot mean: the window's days stay unconfirmed (the state
/// does not advance), and the next run pulls them again.
fn lie(text: String) -> Failure {
    Failure::Api(format!("{text}; nothing of this window was marked complete").into())
}
