//! `sync --to DIR|s3://…`: the org's daily usage as a Parquet dataset, kept up to date.
//!
//! The first run backfills `--since`; later runs start `--repull` days before the last
//! complete day of the state and end yesterday (UTC). Each job's window is pulled and
//! written on its own, `--concurrency` at once (windows hold disjoint days); each day's rows
//! become one file, written whole (the old file or the new one, never half); the state
//! advances over the windows complete from the first, so a crash at any moment costs at
//! most the windows being written, which the next run pulls again. The rows are asked for
//! in date order, so memory holds a page and a day per running job, not the history.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt as _;

use chrono::{Days, NaiveDate, Utc};
use usage_ext::models::{
    Granularity, OrganizationPublicApiUsage, OrganizationPublicApiUsageQueryRequest, SortOrder,
    UsageQuerySortBy,
};
use usage_ext::{DayWindow, MAX_HISTORY_DAYS, Pages, earliest_first_day};

use crate::cli::SyncArgs;
use crate::cli::resolve;
use crate::commands::declared::{DATA, Declared};
use crate::exit::Failure;
use crate::lake::lock::{self, SyncLock};
use crate::lake::schema::Column;
use crate::lake::state::{DayRange, SCHEMA_VERSION, Shape, SyncState};
use crate::lake::store::Store;
use crate::lake::writer::{self, Day};
use crate::lake::{events, rate_limits};
use crate::render::output::thousands;
use crate::session::Session;
use crate::source::api::{Api, day_instants, forbidden, job_request, today};

/// It stops on SIGTERM and Ctrl-C itself, after giving its target's lock back.
pub const DECLARED: Declared = Declared {
    formats: DATA,
    own_signals: true,
    several_orgs: false,
};

/// The first run's reach when `--since` is not given.
const DEFAULT_SINCE_DAYS: u32 = 90;

/// Days re-pulled when `--repull` is not given: the data lags a day and settles.
const DEFAULT_REPULL_DAYS: u32 = 3;

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
    // The default is clamped to a shorter window (`--since 1d` from a daily cron); only a
    // re-pull asked for explicitly can be wrong.
    let repull = match args.repull {
        None => DEFAULT_REPULL_DAYS.min(window),
        Some(days) if days > window => {
            return Err(Failure::Usage(format!(
                "--repull {days}d is longer than the window of {window}d it re-pulls from"
            )));
        }
        Some(days) => days,
    };
    let shape = Shape {
        group_by: args.group_by.clone(),
        granularity: Granularity::Day,
        template_uris: args.filters.template_uri.clone(),
        http_methods: args.filters.http_method.clone(),
        platforms: args.filters.platform.clone(),
        user_ids: args.filters.user_id.clone(),
        oauth_client_ids: args.filters.oauth_client_id.clone(),
    }
    .normalized();
    Ok(Plan {
        store: Store::open("--to", &args.to, vars)?,
        shape,
        since,
        repull,
        page_size: args.paging.page_size,
        concurrency: args.paging.jobs.concurrency.get(),
    })
}

/// What a run wrote, for its last line.
#[derive(Default)]
struct Written {
    days: u64,
    rows: u64,
    bytes: u64,
}

impl Written {
    fn add(&mut self, other: &Written) {
        self.days += other.days;
        self.rows += other.rows;
        self.bytes += other.bytes;
    }
}

pub async fn exec(session: &Session, api: &Api, plan: Plan) -> Result<(), Failure> {
    let signals = crate::signals::Signals::listen();
    plan.store.check_writable().await?;
    // The target is this run's before anything in it is read or removed.
    let lock = lock::take(&plan.store).await?;
    if let Some(before) = &lock.took_over {
        session.progress.note(&format!(
            "sync: took over the lock of {before}: that run did not end"
        ));
    }
    // Stopped by SIGTERM (a service manager) or Ctrl-C, the run ends as an interrupted one
    // does (the days written are whole, the state names the last complete one, a leftover
    // is removed by the next run) and gives the lock back, so the next run need not wait
    // for it to lapse.
    let result = tokio::select! {
        result = run(session, api, &plan, &lock) => result,
        _ = signals.stopped() => {
            session.progress.note(
                "sync: stopped by a signal; the days written are kept and the next run completes the rest",
            );
            Err(Failure::Interrupted { resume: None })
        }
    };
    lock.release().await;
    result
}

async fn run(session: &Session, api: &Api, plan: &Plan, lock: &SyncLock) -> Result<(), Failure> {
    let started = Instant::now();
    let store = &plan.store;
    let place = store.describe();
    let state_place = format!("{place}/{}", writer::STATE_FILE);
    let state = match store.get(writer::STATE_FILE).await? {
        Some(bytes) => {
            let state = SyncState::parse(&bytes, &state_place)?;
            state.check_same(api.scope(), &plan.shape, &state_place)?;
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

    let today = today();
    let Some(days) = days_to_pull(session, plan, state.as_ref(), today)? else {
        return Ok(());
    };
    let (first, yesterday) = (days.first(), days.last());
    let windows = Api::windows(days)?;
    let request = request(plan, windows[0]);
    let queries = api
        .queries()
        .clone()
        .with_page_size(plan.page_size)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let total = windows.len();
    let mut state = state.unwrap_or(SyncState {
        schema_version: SCHEMA_VERSION,
        scope: api.scope().clone(),
        shape: plan.shape.clone(),
        first_day: first,
        last_complete_day: first,
        updated_at: Utc::now(),
        rate_limit_days: None,
        event_days: None,
    });
    // Whether this run keeps the rate-limit table: until the login turns out not to be
    // allowed to read the aggregates (then said once, and the usage goes on alone).
    let limits_allowed = std::sync::atomic::AtomicBool::new(true);
    // The events of the days the service still keeps whole, likewise until refused; their
    // definitions' names are read once (best effort: the ids stand without them).
    let events_from = events_kept_from(today).max(first);
    let events_allowed = std::sync::atomic::AtomicBool::new(true);
    let event_names = api.event_definition_names().await.unwrap_or_default();

    let rows_seen = AtomicU64::new(0);
    // Each window goes from submission to its last day's file on its own: windows hold
    // disjoint days, so they never write the same file. At most `concurrency` jobs are
    // submitted and waiting at once; a job that has succeeded gives its place to the next
    // while its pages are fetched and written. A year is at most five windows, so memory
    // stays at a page and a day for each of them at most.
    let waiting = tokio::sync::Semaphore::new(plan.concurrency);
    let mut runs = futures_util::stream::iter(windows.iter().copied().enumerate())
        .map(|(index, window)| {
            let (queries, request, rows_seen, waiting) = (&queries, &request, &rows_seen, &waiting);
            let limits_allowed = &limits_allowed;
            let (events_allowed, event_names) = (&events_allowed, &event_names);
            async move {
                let mut request = request.clone();
                request.interval = window.interval();
                // Never closed, so the wait ends with a place; dropping it gives it back.
                let place = waiting.acquire().await;
                let job = queries.submit_aggregate(&request).await?;
                api.job_submitted(window, &job.job_id, total);
                let pages = job.wait_with(queries, |event| api.polled(event)).await?;
                drop(place);
                let mut written =
                    write_window(session, store, lock, window, pages, rows_seen).await?;
                let limits =
                    write_rate_limits(session, queries, store, lock, window, limits_allowed)
                        .await?;
                written.bytes += limits;
                if let Some(days) = DayWindow::new(window.first().max(events_from), window.last()) {
                    let kept = Events {
                        queries,
                        names: event_names,
                        allowed: events_allowed,
                    };
                    written.bytes += write_events(session, &kept, store, lock, days).await?;
                }
                Ok::<_, Failure>((index, written))
            }
        })
        .buffer_unordered(total);
    let mut prefix = Prefix::new(total);
    let mut written = Written::default();
    while let Some(result) = runs.next().await {
        // The first failure ends the run; the windows still running stop with it, and the
        // state covers only the windows complete before them all.
        let (index, window_written) = result?;
        written.add(&window_written);
        if let Some(last) = prefix.complete(index) {
            state.first_day = state.first_day.min(first);
            state.last_complete_day = state.last_complete_day.max(windows[last].last());
            if limits_allowed.load(Ordering::Relaxed) {
                let now = DayRange {
                    first_day: first,
                    last_day: windows[last].last(),
                };
                state.rate_limit_days = Some(match state.rate_limit_days {
                    Some(held) => held.joined(now),
                    None => now,
                });
            }
            if events_allowed.load(Ordering::Relaxed) && windows[last].last() >= events_from {
                let now = DayRange {
                    first_day: events_from,
                    last_day: windows[last].last(),
                };
                state.event_days = Some(match state.event_days {
                    Some(held) => held.joined(now),
                    None => now,
                });
            }
            state.updated_at = Utc::now();
            lock.check().await?;
            store.put(writer::STATE_FILE, state.to_bytes()).await?;
        }
    }
    drop(runs);
    api.done();
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

/// The days this run pulls: from the first run's `--since`, or `--repull` days before the
/// state's last complete day, to yesterday, within the year the API keeps; `None` when the
/// dataset is up to date.
fn days_to_pull(
    session: &Session,
    plan: &Plan,
    state: Option<&SyncState>,
    today: NaiveDate,
) -> Result<Option<DayWindow>, Failure> {
    let place = plan.store.describe();
    let yesterday = resolve::days_before(today, 1, "sync")?;
    let earliest = earliest_first_day(today);
    let asked = resolve::days_before(today, plan.since.unwrap_or(DEFAULT_SINCE_DAYS), "--since")?;
    let mut first = match state {
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
    let days = DayWindow::new(first, yesterday);
    if days.is_none() {
        session.progress.note(&format!(
            "sync: {place} is up to date (last complete day {yesterday})"
        ));
    }
    Ok(days)
}

/// The job of `window`: every counter of the rows of the dataset's shape, in date order.
fn request(plan: &Plan, window: DayWindow) -> OrganizationPublicApiUsageQueryRequest {
    let mut request = job_request(window.interval());
    request.group_by = plan.shape.group_by.clone();
    request.metrics = Column::COUNTS.iter().filter_map(|c| c.metric()).collect();
    request.granularity = Some(plan.shape.granularity.clone());
    request.template_uris = plan.shape.template_uris.clone();
    request.http_methods = plan.shape.http_methods.clone();
    request.platforms = plan.shape.platforms.clone();
    request.user_ids = plan.shape.user_ids.clone();
    request.oauth_client_ids = plan.shape.oauth_client_ids.clone();
    // Date order lets a day be written as soon as the next begins.
    request.sort_by = vec![UsageQuerySortBy {
        field_name: Some("date".into()),
        order: Some(SortOrder::Asc),
    }];
    request
}

/// Which windows are complete, in any order; the state may only cover the first ones up
/// to the first that is not.
struct Prefix {
    complete: Vec<bool>,
    done: usize,
}

impl Prefix {
    fn new(windows: usize) -> Self {
        Self {
            complete: vec![false; windows],
            done: 0,
        }
    }

    /// Marks window `index` complete; returns the last window of the complete prefix when
    /// it grew.
    fn complete(&mut self, index: usize) -> Option<usize> {
        *self.complete.get_mut(index)? = true;
        let before = self.done;
        while self.complete.get(self.done) == Some(&true) {
            self.done += 1;
        }
        (self.done > before).then(|| self.done - 1)
    }
}

/// Pages through a window's job and writes each of its days, with rows or without, in date
/// order: a day is written as soon as the rows of the next begin.
async fn write_window(
    session: &Session,
    store: &Store,
    lock: &SyncLock,
    window: DayWindow,
    mut pages: Pages<OrganizationPublicApiUsage>,
    rows_seen: &AtomicU64,
) -> Result<Written, Failure> {
    let synced_at = Utc::now();
    let mut written = Written::default();
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
                day = write_day(store, lock, day, synced_at, &mut written).await?;
            }
            day.add(&row).map_err(lie)?;
            written.rows += 1;
        }
        session.progress.status(&format!(
            "sync · {window} · {} · {} rows",
            day.date,
            thousands((rows_seen.load(Ordering::Relaxed) + written.rows) as i64)
        ));
    }
    rows_seen.fetch_add(written.rows, Ordering::Relaxed);
    loop {
        let last = day.date >= window.last();
        day = write_day(store, lock, day, synced_at, &mut written).await?;
        if last {
            return Ok(written);
        }
    }
}

/// Writes `day` whole, if this run still holds the target, and returns the next day, empty.
async fn write_day(
    store: &Store,
    lock: &SyncLock,
    day: Day,
    synced_at: chrono::DateTime<Utc>,
    written: &mut Written,
) -> Result<Day, Failure> {
    let bytes = day
        .encode(synced_at)
        .map_err(|e| Failure::store(format!("encoding {}", day.date), e))?;
    written.bytes += bytes.len() as u64;
    written.days += 1;
    lock.check().await?;
    store.put(&writer::day_path(day.date), bytes).await?;
    let next: NaiveDate = day
        .date
        .succ_opt()
        .ok_or_else(|| Failure::Usage("the calendar ends".into()))?;
    Ok(Day::new(next))
}

/// The hourly near-limit records of `window`, one file per day (a day without records has
/// an empty one): one request. A failed request (a login that may not read them, above
/// all) ends the table for this run, said once; the usage goes on. Returns the bytes
/// written.
async fn write_rate_limits(
    session: &Session,
    queries: &usage_ext::UsageQueries,
    store: &Store,
    lock: &SyncLock,
    window: DayWindow,
    allowed: &std::sync::atomic::AtomicBool,
) -> Result<u64, Failure> {
    if !allowed.load(Ordering::Relaxed) {
        return Ok(0);
    }
    let interval = day_instants(window);
    let records = match queries
        .rate_limit_records(&interval, usage_ext::Bucket::Hour)
        .await
    {
        Ok(records) => records,
        // The usage is the history; the limits beside it are not worth losing it for. The
        // table is left as it was (the state claims no day of this run for it) and the
        // next run tries again.
        Err(e) => {
            if allowed.swap(false, Ordering::Relaxed) {
                let why = if forbidden(&e) {
                    "the login lacks analytics:rateLimitAggregate:view, which would keep the \
                     hours each client comes near a limit"
                        .to_string()
                } else {
                    e.to_string()
                };
                session.progress.note(&format!(
                    "sync: the rate-limit table is left as it was this run: {why}"
                ));
            }
            return Ok(0);
        }
    };
    // A record outside the window's days is one the service cannot mean: none of the
    // answer is kept.
    if let Some(r) = records
        .iter()
        .find(|r| !window.contains(r.bucket_start.date_naive()))
    {
        if allowed.swap(false, Ordering::Relaxed) {
            session.progress.note(&format!(
                "sync: the rate-limit table is left as it was this run: the aggregates for \
                 {window} sent a record of {}, outside it",
                r.bucket_start
            ));
        }
        return Ok(0);
    }
    let synced_at = Utc::now();
    let mut bytes_written = 0u64;
    for day in window
        .first()
        .iter_days()
        .take_while(|d| *d <= window.last())
    {
        let of_day: Vec<&usage_ext::RateLimitRecord> = records
            .iter()
            .filter(|r| r.bucket_start.date_naive() == day)
            .collect();
        let bytes = rate_limits::encode(day, &of_day, synced_at)
            .map_err(|e| Failure::store(format!("encoding the rate limits of {day}"), e))?;
        bytes_written += bytes.len() as u64;
        lock.check().await?;
        store.put(&rate_limits::day_path(day), bytes).await?;
    }
    Ok(bytes_written)
}

/// How many complete days back the events are synced: the Operational Console keeps
/// events 10 days and upstream does not say how long the events query does, so the days
/// kept are a day short of that, none of them half expired. A day the service no longer
/// kept would be written as a quiet one.
pub const EVENTS_KEPT_DAYS: u64 = 9;

/// The first day whose events are synced on `today`.
fn events_kept_from(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_days(Days::new(EVENTS_KEPT_DAYS))
        .unwrap_or(today)
}

/// What the events table is written from: the queries, the definitions' names, and whether
/// this run still keeps it.
struct Events<'a> {
    queries: &'a usage_ext::UsageQueries,
    names: &'a std::collections::HashMap<String, String>,
    allowed: &'a std::sync::atomic::AtomicBool,
}

/// The operational events of `days`, one file per day (a day without events has an empty
/// one), every page read before any file is written. A failed request or page (a login
/// that may not read them, above all) ends the table for this run, said once; the usage
/// goes on. Returns the bytes written.
async fn write_events(
    session: &Session,
    kept: &Events<'_>,
    store: &Store,
    lock: &SyncLock,
    days: DayWindow,
) -> Result<u64, Failure> {
    if !kept.allowed.load(Ordering::Relaxed) {
        return Ok(0);
    }
    let left_out = |why: String| {
        if kept.allowed.swap(false, Ordering::Relaxed) {
            session.progress.note(&format!(
                "sync: the events table is left as it was this run: {why}"
            ));
        }
        Ok(0)
    };
    let why = |e: &usage_ext::Error| {
        if forbidden(e) {
            "the login lacks usage:events:view, which would keep the operational events".into()
        } else {
            e.to_string()
        }
    };
    let stream = match kept.queries.operational_events(&day_instants(days)) {
        Ok(stream) => stream,
        Err(e) => return left_out(why(&e)),
    };
    let mut stream = std::pin::pin!(stream);
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => return left_out(why(&e)),
        };
        // An event outside the days asked for, or without a date, is one the service
        // cannot mean: none of the answer is kept.
        match event.date_created {
            Some(at) if days.contains(at.date_naive()) => {}
            other => {
                return left_out(format!(
                    "the events of {days} held one {}",
                    other.map_or("without dateCreated".into(), |at| format!("of {at}"))
                ));
            }
        }
        let name = event
            .event_definition
            .as_ref()
            .and_then(|d| d.id.as_ref())
            .and_then(|id| kept.names.get(id))
            .cloned();
        events.push(events::Kept {
            event,
            event_definition_name: name,
        });
    }
    let synced_at = Utc::now();
    let mut bytes_written = 0u64;
    for day in days.first().iter_days().take_while(|d| *d <= days.last()) {
        let of_day: Vec<&events::Kept> = events
            .iter()
            .filter(|k| k.event.date_created.map(|at| at.date_naive()) == Some(day))
            .collect();
        let bytes = events::encode(day, &of_day, synced_at)
            .map_err(|e| Failure::store(format!("encoding the events of {day}"), e))?;
        bytes_written += bytes.len() as u64;
        lock.check().await?;
        store.put(&events::day_path(day), bytes).await?;
    }
    Ok(bytes_written)
}

/// The service answered what it cannot mean: the window's days stay unconfirmed (the state
/// does not advance), and the next run pulls them again.
fn lie(text: String) -> Failure {
    Failure::Malformed(format!(
        "{text}; nothing of this window was marked complete"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_covers_only_the_windows_complete_from_the_first() {
        let mut prefix = Prefix::new(4);
        assert_eq!(prefix.complete(2), None, "window 3 alone covers nothing");
        assert_eq!(prefix.complete(1), None);
        assert_eq!(prefix.complete(0), Some(2), "1, 2 and 3 now");
        assert_eq!(prefix.complete(3), Some(3));
        assert_eq!(prefix.complete(9), None);
    }
}
