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
use usage_ext::DayWindow;
use usage_ext::models::{DomainEntityRef, HttpMethod, OrganizationPublicApiUsage, UserReference};

use crate::exit::Failure;
use crate::lake::state::SyncState;
use crate::lake::store::Store;
use crate::lake::writer::{self, STATE_FILE};

/// A column a command can ask for, by the dataset's (and the CSV export's) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    OauthClientId,
    OauthClientName,
    UserId,
    Platform,
    HttpMethod,
    TemplateUri,
    RequestCount,
    Status200,
    Status300,
    Status400,
    Status429,
    Status500,
}

impl Column {
    /// Every column of a row, for an export.
    pub const ALL: [Column; 12] = [
        Column::OauthClientId,
        Column::OauthClientName,
        Column::UserId,
        Column::Platform,
        Column::HttpMethod,
        Column::TemplateUri,
        Column::RequestCount,
        Column::Status200,
        Column::Status300,
        Column::Status400,
        Column::Status429,
        Column::Status500,
    ];

    /// Its place in a [`DayRow`]: the six texts, then the six counters (the order of the
    /// declaration and of [`Column::ALL`]); a cast, as it is taken for every cell read.
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Column::OauthClientId => "oauthClientId",
            Column::OauthClientName => "oauthClientName",
            Column::UserId => "userId",
            Column::Platform => "platform",
            Column::HttpMethod => "httpMethod",
            Column::TemplateUri => "templateUri",
            Column::RequestCount => "requestCount",
            Column::Status200 => "status200",
            Column::Status300 => "status300",
            Column::Status400 => "status400",
            Column::Status429 => "status429",
            Column::Status500 => "status500",
        }
    }

    fn is_count(self) -> bool {
        matches!(
            self,
            Column::RequestCount
                | Column::Status200
                | Column::Status300
                | Column::Status400
                | Column::Status429
                | Column::Status500
        )
    }
}

/// The columns a dataset file may hold: the writer's, and the partitions' own when a reader
/// wrote them back (`granularity`, `date`).
fn known_column(name: &str) -> bool {
    name == "date"
        || name == "synced_at"
        || name == "granularity"
        || Column::ALL.iter().any(|c| c.name() == name)
}

/// One row of a day file, borrowed from the batch it was read in: the columns asked for,
/// the others `None`. Reading a million rows allocates nothing per row.
pub struct DayRow<'a> {
    pub date: NaiveDate,
    texts: [Option<&'a str>; 6],
    counts: [Option<i64>; 6],
}

impl DayRow<'_> {
    /// A text column (`""` when absent or not read).
    pub fn text(&self, column: Column) -> &str {
        self.texts
            .get(column.index())
            .copied()
            .flatten()
            .unwrap_or_default()
    }

    /// A counter (0 when absent or not read).
    pub fn count(&self, column: Column) -> i64 {
        self.counts
            .get(column.index().wrapping_sub(6))
            .copied()
            .flatten()
            .unwrap_or(0)
    }

    /// The row as the jobs API answers it, for an export or the exporter's sums.
    pub fn to_model(&self) -> OrganizationPublicApiUsage {
        let text = |c: Column| self.texts[c.index()].map(str::to_string);
        let count = |c: Column| self.counts[c.index() - 6];
        let (id, name, user) = (
            text(Column::OauthClientId),
            text(Column::OauthClientName),
            text(Column::UserId),
        );
        OrganizationPublicApiUsage {
            date: Some(self.date),
            oauth_client: (id.is_some() || name.is_some()).then_some(DomainEntityRef {
                id,
                name,
                self_uri: None,
            }),
            user: user.map(|id| UserReference {
                id: Some(id),
                self_uri: None,
            }),
            platform: text(Column::Platform),
            http_method: self.texts[Column::HttpMethod.index()].map(HttpMethod::from),
            template_uri: text(Column::TemplateUri),
            request_count: count(Column::RequestCount),
            status200: count(Column::Status200),
            status300: count(Column::Status300),
            status400: count(Column::Status400),
            status429: count(Column::Status429),
            status500: count(Column::Status500),
        }
    }
}

/// A synced dataset, its state read and checked.
pub struct History {
    store: Store,
    state: SyncState,
    place: String,
}

impl History {
    /// Opens `--from`: refuses (exit 2) a place that holds no dataset, or one of a newer
    /// version. Reads the state file only.
    pub async fn open(from: &str, vars: &[(String, String)]) -> Result<Self, Failure> {
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
        })
    }

    /// Where it is, for messages.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Whose usage it holds: `demo`, or the API's base URL.
    pub fn scope(&self) -> &str {
        &self.state.scope
    }

    /// The days it holds: from its first to its last complete day.
    pub fn held(&self) -> DayWindow {
        DayWindow::new(self.state.first_day, self.state.last_complete_day).unwrap_or_else(|| {
            DayWindow::new(self.state.last_complete_day, self.state.last_complete_day)
                .expect("a day is a window")
        })
    }

    /// Refuses (exit 2) a dataset whose rows lack a group-by `what` needs: a dataset synced
    /// without `OauthClientId` cannot answer per client.
    pub fn require(&self, group_by: &[&str], what: &str) -> Result<(), Failure> {
        let missing: Vec<&str> = group_by
            .iter()
            .copied()
            .filter(|g| !self.state.shape.group_by.iter().any(|have| have == g))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Failure::Usage(format!(
            "--from {}: the dataset was synced grouped by {}, without {}, which {what} needs; \
             sync another dataset with --group-by {}",
            self.place,
            self.state.shape.group_by.join(","),
            missing.join(", "),
            group_by.join(","),
        )))
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

    /// Reads `columns` of every row of `days`, a day at a time in date order, handing each
    /// to `each`; returns the days of the window with no file (a gap in the history).
    pub async fn rows(
        &self,
        days: DayWindow,
        columns: &[Column],
        mut each: impl FnMut(&DayRow<'_>) -> Result<(), Failure>,
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
    if let Some(foreign) = schema.fields().iter().find(|f| !known_column(f.name())) {
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
    let with_date = schema.field_with_name("date").is_ok();
    if with_date {
        wanted.push("date");
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
    each: &mut impl FnMut(&DayRow<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let rows = batch.num_rows();
    if with_date {
        let dates = batch
            .column_by_name("date")
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
    let mut row = DayRow {
        date: day,
        texts: [None; 6],
        counts: [None; 6],
    };
    for i in 0..rows {
        for (column, values) in &text {
            row.texts[column.index()] = values[i];
        }
        for (column, values) in &count {
            row.counts[column.index() - 6] = values[i];
        }
        each(&row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Column;

    #[test]
    fn a_columns_index_is_its_place_in_all() {
        for (place, column) in Column::ALL.iter().enumerate() {
            assert_eq!(column.index(), place, "{column:?}");
        }
    }
}
