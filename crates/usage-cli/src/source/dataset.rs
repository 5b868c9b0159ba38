//! The history `sync` kept, read back: `--from DIR|s3://bucket/prefix` answers `report`,
//! `check`, `serve` and `jobs` from the dataset instead of the Usage API, so they spend no
//! request of the org's rate limit and reach as far back as the dataset holds.
//!
//! What it reads: the state file first (a dataset, of a version this build reads, of a
//! shape that has what the command needs, holding the days asked for: else refused, exit
//! 2, before any day is read), then only the day partitions of the window
//! (`usage/granularity=day/date=D/`) and of each file only the columns the command needs.
//! Files are read by column names and types (arrow-rs's Parquet reader), not by this
//! writer's metadata, so a day rewritten by another writer with the same columns (DuckDB's
//! `COPY … (FORMAT parquet)`, a compaction by Spark) reads the same. A day missing inside
//! the window is named on stderr, never summed as zero.

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Date32Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use chrono::NaiveDate;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use usage_ext::DayWindow;

use crate::exit::Failure;
use crate::lake::schema::{self, Column};
use crate::lake::state::{Scope, SyncState};
use crate::lake::store::Store;
use crate::lake::writer::{self, STATE_FILE};
use crate::lake::{events, rate_limits};
use crate::progress::Progress;
use crate::source::family::{Family, Unavailable};
use crate::source::row::{Ask, Row};
use usage_ext::RateLimitRecord;
use usage_ext::models::Interval;

/// A synced dataset, its state read and checked.
pub struct Dataset {
    store: Store,
    state: SyncState,
    place: String,
    progress: Arc<Progress>,
    /// Whether the note on a filtered dataset was said (once a run).
    noted_filters: AtomicBool,
}

impl Dataset {
    /// Opens `--from`: refuses (exit 2) a place that holds no dataset, or one of a newer
    /// version. Reads the state file only.
    pub async fn open(
        from: &str,
        vars: &[(String, String)],
        progress: Arc<Progress>,
    ) -> Result<Self, Failure> {
        let store = Store::open("--from", from, vars)?;
        let place = store.describe();
        let state_place = format!("{place}/{STATE_FILE}");
        let dataset = |reason: String| Failure::Dataset {
            place: place.clone(),
            reason,
        };
        let Some(bytes) = store.get(STATE_FILE).await.map_err(|e| {
            dataset(format!(
                "its state cannot be read ({e}); give the place a `sync --to` wrote"
            ))
        })?
        else {
            return Err(dataset(format!(
                "no dataset there ({STATE_FILE} is missing); give the place a `sync --to` wrote"
            )));
        };
        let state = SyncState::parse(&bytes, &state_place)?;
        Ok(Self {
            store,
            state,
            place,
            progress,
            noted_filters: AtomicBool::new(false),
        })
    }

    /// The same dataset with its state read again (a sync may have run since).
    pub async fn reopen(&self) -> Result<Self, Failure> {
        let state_place = format!("{}/{STATE_FILE}", self.place);
        let Some(bytes) = self.store.get(STATE_FILE).await? else {
            return Err(Failure::store(
                state_place,
                "it is gone: the dataset was moved or removed",
            ));
        };
        Ok(Self {
            store: self.store.clone(),
            state: SyncState::parse(&bytes, &state_place)?,
            place: self.place.clone(),
            progress: self.progress.clone(),
            noted_filters: AtomicBool::new(self.noted_filters.load(Ordering::Relaxed)),
        })
    }

    /// The hourly near-limit records of `days` from the rate-limit table, when it holds all
    /// of them; else why not. A day file that does not read is the dataset's failure.
    pub async fn rate_limit_records(
        &self,
        days: DayWindow,
    ) -> Result<Family<Vec<RateLimitRecord>>, Failure> {
        let Some(held) = self.state.rate_limit_days else {
            return Ok(Err(Unavailable::NotKept(
                "--from: the dataset keeps no rate-limit records (a sync whose login may read \
                 the rate-limit aggregates keeps them); the limits are left out"
                    .into(),
            )));
        };
        if days.first() < held.first_day || days.last() > held.last_day {
            return Ok(Err(Unavailable::Unread(format!(
                "--from: the dataset holds rate-limit records from {} to {}, not all of {days}; \
                 the limits are left out",
                held.first_day, held.last_day
            ))));
        }
        let mut records = Vec::new();
        for day in days.first().iter_days().take_while(|d| *d <= days.last()) {
            records.extend(
                self.day_file(&rate_limits::day_path(day), |bytes| {
                    rate_limits::decode(day, bytes)
                })
                .await?,
            );
        }
        Ok(Ok(records))
    }

    /// The operational events created in `interval` (instants, the end excluded), of
    /// `entity` when one is given, from the events table, with their definitions' names;
    /// when the table does not hold every day of it, why not. A day file that does not
    /// read is the dataset's failure.
    pub async fn operational_events(
        &self,
        interval: &Interval,
        entity: Option<&str>,
    ) -> Result<Family<Vec<events::Kept>>, Failure> {
        let Some(held) = self.state.event_days else {
            return Ok(Err(Unavailable::NotKept(
                "--from: the dataset keeps no operational events (a sync whose login may read \
                 them keeps the days the service still has)"
                    .into(),
            )));
        };
        let first = interval.start.date_naive();
        // The day of the last instant in it: the end is excluded.
        let last = (interval.end - chrono::Duration::milliseconds(1)).date_naive();
        if first < held.first_day || last > held.last_day {
            return Ok(Err(Unavailable::Unread(format!(
                "--from: the dataset holds operational events from {} to {}, not all of {first} to {last}",
                held.first_day, held.last_day
            ))));
        }
        let mut kept = Vec::new();
        for day in first.iter_days().take_while(|d| *d <= last) {
            kept.extend(
                self.day_file(&events::day_path(day), |bytes| events::decode(day, bytes))
                    .await?
                    .into_iter()
                    .filter(|k| {
                        k.event
                            .date_created
                            .is_some_and(|at| interval.start <= at && at < interval.end)
                    })
                    .filter(|k| entity.is_none_or(|e| k.event.entity_id.as_deref() == Some(e))),
            );
        }
        Ok(Ok(kept))
    }

    /// A day file of a table the state says holds its day, read by `decode`: missing, or
    /// not read, it is the dataset's failure, named with its place.
    async fn day_file<T>(
        &self,
        path: &str,
        decode: impl FnOnce(Vec<u8>) -> Result<T, String>,
    ) -> Result<T, Failure> {
        let place = format!("{}/{path}", self.place);
        let bytes = self
            .store
            .get(path)
            .await?
            .ok_or_else(|| Failure::DayFile {
                place: place.clone(),
                reason: "it is missing, though the state says the table holds its day".into(),
            })?;
        decode(bytes).map_err(|reason| Failure::DayFile { place, reason })
    }

    /// Where it is, for messages.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Whose usage it holds.
    pub fn scope(&self) -> &Scope {
        &self.state.scope
    }

    /// The days it holds: from its first to its last complete day.
    pub fn held(&self) -> DayWindow {
        DayWindow::new(self.state.first_day, self.state.last_complete_day).unwrap_or_else(|| {
            DayWindow::new(self.state.last_complete_day, self.state.last_complete_day)
                .expect("a day is a window")
        })
    }

    /// Refuses (exit 2) a dataset whose rows lack a dimension `ask` needs: a dataset synced
    /// without `OauthClientId` cannot answer per client.
    fn require(&self, ask: &Ask) -> Result<(), Failure> {
        let mut needed = Vec::new();
        for group_by in ask.needs.iter().filter_map(|c| c.group_by()) {
            if !needed.contains(&group_by) {
                needed.push(group_by);
            }
        }
        let have = &self.state.shape.group_by;
        let missing: Vec<&str> = needed
            .iter()
            .filter(|g| !have.contains(g))
            .map(|g| g.as_str())
            .collect();
        let needed: Vec<&str> = needed.iter().map(|g| g.as_str()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let synced: Vec<&str> = have.iter().map(|g| g.as_str()).collect();
        Err(Failure::Dataset {
            place: self.place.clone(),
            reason: format!(
                "the dataset was synced grouped by {}, without {}, which {} needs; sync \
                 another dataset with --group-by {}",
                synced.join(","),
                missing.join(", "),
                ask.purpose,
                needed.join(","),
            ),
        })
    }

    /// Whether the rows were synced with filters (a part of the org's usage only).
    pub fn filtered(&self) -> bool {
        let s = &self.state.shape;
        !(s.template_uris.is_empty()
            && s.http_methods.is_empty()
            && s.platforms.is_empty()
            && s.user_ids.is_empty()
            && s.oauth_client_ids.is_empty())
    }

    /// Refuses (exit 2) a window that reaches outside the days the dataset holds.
    pub fn check_window(&self, days: DayWindow, flag: &str) -> Result<(), Failure> {
        let held = self.held();
        if held.contains(days.first()) && held.contains(days.last()) {
            return Ok(());
        }
        Err(Failure::Usage(format!(
            "{flag}: the window {days} reaches outside the days {} holds, {held} (its first \
             to its last complete day); ask for days inside them, or sync them first",
            self.place
        )))
    }

    /// Whether it holds all of `days`.
    pub fn holds(&self, days: DayWindow) -> bool {
        self.check_window(days, "").is_ok()
    }

    /// The rows of each of `asks`, to `each` with the ask's place: the asks of the same
    /// days are read in one pass (the union of their columns), a day at a time in date
    /// order. A day with no file is named on stderr, never summed as zero.
    pub async fn rows(
        &self,
        asks: &[Ask],
        mut each: impl FnMut(usize, &Row<'_>) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        for ask in asks {
            self.require(ask)?;
        }
        if self.filtered() && !self.noted_filters.swap(true, Ordering::Relaxed) {
            self.progress.note(
                "--from: the dataset was synced with filters; the figures are of the rows it kept",
            );
        }
        let mut passes: Vec<(DayWindow, Vec<usize>)> = Vec::new();
        for (index, ask) in asks.iter().enumerate() {
            match passes.iter_mut().find(|(days, _)| *days == ask.days) {
                Some((_, readers)) => readers.push(index),
                None => passes.push((ask.days, vec![index])),
            }
        }
        for (days, readers) in passes {
            let mut columns: Vec<Column> = Vec::new();
            for &r in &readers {
                for c in &asks[r].columns {
                    if !columns.contains(c) {
                        columns.push(*c);
                    }
                }
            }
            let missing = self
                .read(days, &columns, |row| {
                    readers.iter().try_for_each(|&r| each(r, row))
                })
                .await?;
            self.note_missing(&missing);
        }
        Ok(())
    }

    /// A gap in the history is said, not summed as zero.
    fn note_missing(&self, missing: &[NaiveDate]) {
        if missing.is_empty() {
            return;
        }
        let days: Vec<String> = missing.iter().map(ToString::to_string).collect();
        self.progress.note(&format!(
            "--from: the dataset has no file for {} day(s) of the window, left out of the figures: {}",
            missing.len(),
            days.join(", ")
        ));
    }

    /// Reads `columns` of every row of `days`, a day at a time in date order, handing each
    /// to `each`; returns the days of the window with no file (a gap in the history).
    async fn read(
        &self,
        days: DayWindow,
        columns: &[Column],
        mut each: impl FnMut(&Row<'_>) -> Result<(), Failure>,
    ) -> Result<Vec<NaiveDate>, Failure> {
        let mut missing = Vec::new();
        // The next day is fetched and decoded (on the blocking pool) while this one is
        // handed out: a day's batches in memory at most twice, and both cores at work.
        let mut day = days.first();
        let mut next = Some(self.load(day, columns));
        while let Some(loading) = next.take() {
            let loaded = loading
                .await
                .map_err(|e| Failure::store(format!("{}, {day}", self.place), e))??;
            let this = day;
            if day < days.last() {
                day = day.succ_opt().unwrap_or(days.last());
                next = Some(self.load(day, columns));
            }
            match loaded {
                None => missing.push(this),
                Some(loaded) => {
                    for batch in &loaded.batches {
                        decode(
                            batch,
                            this,
                            columns,
                            loaded.with_date,
                            &loaded.place,
                            &mut each,
                        )?;
                    }
                }
            }
        }
        Ok(missing)
    }

    /// Starts fetching and decoding `day`'s file: `None` when the dataset has none.
    fn load(
        &self,
        day: NaiveDate,
        columns: &[Column],
    ) -> tokio::task::JoinHandle<Result<Option<Loaded>, Failure>> {
        let store = self.store.clone();
        let path = writer::day_path(day);
        let place = format!("{}/{path}", self.place);
        let columns = columns.to_vec();
        tokio::spawn(async move {
            let Some(bytes) = store.get(&path).await? else {
                return Ok(None);
            };
            let decoding = place.clone();
            tokio::task::spawn_blocking(move || load_day(bytes, &columns, place).map(Some))
                .await
                .map_err(|e| Failure::store(decoding, e))?
        })
    }
}

/// A day file's batches, of the columns asked for (and `date` when it has one).
struct Loaded {
    batches: Vec<RecordBatch>,
    with_date: bool,
    place: String,
}

/// A day file that cannot be read (truncated, not Parquet, a foreign or mistyped column)
/// ends the command with exit 1 and names the file.
fn unreadable(place: &str, why: impl std::fmt::Display) -> Failure {
    Failure::DayFile {
        place: place.to_string(),
        reason: why.to_string(),
    }
}

fn load_day(bytes: Vec<u8>, columns: &[Column], place: String) -> Result<Loaded, Failure> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| unreadable(&place, e))?;
    let schema = builder.schema().clone();
    if let Some(foreign) = schema.fields().iter().find(|f| !schema::known(f.name())) {
        return Err(unreadable(
            &place,
            format!(
                "it has a column no dataset of this tool has, {:?}",
                foreign.name()
            ),
        ));
    }
    // Only the columns asked for, and the date when the file has it.
    let mut wanted: Vec<&str> = columns.iter().map(|c| c.name()).collect();
    let with_date = schema.field_with_name(schema::DATE).is_ok();
    if with_date {
        wanted.push(schema::DATE);
    }
    for name in &wanted {
        if schema.field_with_name(name).is_err() {
            return Err(unreadable(&place, format!("it has no column {name:?}")));
        }
    }
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| unreadable(&place, e))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&place, e))?;
    Ok(Loaded {
        batches,
        with_date,
        place,
    })
}

/// A text column as strings, whichever string type a writer chose.
fn texts(array: &dyn Array) -> Option<Vec<Option<&str>>> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        _ => return None,
    })
}

/// A counter column as i64, whichever integer width a writer chose.
fn counts(array: &dyn Array) -> Option<Vec<Option<i64>>> {
    Some(match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().iter().collect(),
        DataType::Int32 => array
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        _ => return None,
    })
}

fn decode(
    batch: &RecordBatch,
    day: NaiveDate,
    columns: &[Column],
    with_date: bool,
    place: &str,
    each: &mut impl FnMut(&Row<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let rows = batch.num_rows();
    if with_date {
        let dates = batch
            .column_by_name(schema::DATE)
            .filter(|a| a.data_type() == &DataType::Date32)
            .ok_or_else(|| unreadable(place, "its date column is not a DATE"))?;
        let dates = dates.as_primitive::<Date32Type>();
        if let Some(other) = (0..rows)
            .filter_map(|i| dates.value_as_date(i))
            .find(|d| *d != day)
        {
            return Err(unreadable(
                place,
                format!("it holds a row of {other} in the partition of {day}"),
            ));
        }
    }
    let mut text: Vec<(Column, Vec<Option<&str>>)> = Vec::new();
    let mut count: Vec<(Column, Vec<Option<i64>>)> = Vec::new();
    for &column in columns {
        let array = batch
            .column_by_name(column.name())
            .ok_or_else(|| unreadable(place, format!("it has no column {:?}", column.name())))?;
        let mistyped = || {
            unreadable(
                place,
                format!(
                    "its column {:?} is {}, not {}",
                    column.name(),
                    array.data_type(),
                    if column.is_count() {
                        "an integer"
                    } else {
                        "text"
                    }
                ),
            )
        };
        if column.is_count() {
            let values = counts(array.as_ref()).ok_or_else(mistyped)?;
            // A count is never negative: a file that says otherwise is not this dataset's.
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find_map(|(i, v)| v.filter(|v| *v < 0).map(|v| (i, v)))
            {
                return Err(unreadable(
                    place,
                    format!(
                        "its column {:?} holds a negative count, {v}, in row {i}",
                        column.name()
                    ),
                ));
            }
            count.push((column, values));
        } else {
            text.push((column, texts(array.as_ref()).ok_or_else(mistyped)?));
        }
    }
    let mut row = Row::empty(Some(day));
    for i in 0..rows {
        for (column, values) in &text {
            row.set_text(*column, values[i]);
        }
        for (column, values) in &count {
            row.set_count(*column, values[i]);
        }
        each(&row)?;
    }
    Ok(())
}
