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

use crate::dataset::{self, STATE_FILE};
use crate::exit::Failure;
use crate::store::Store;
use crate::sync_state::SyncState;

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
        let store = Store::open(from, vars).map_err(|e| relabel(e, "--to", "--from"))?;
        let place = store.describe();
        let state_place = format!("{place}/{STATE_FILE}");
        let Some(bytes) = store.get(STATE_FILE).await? else {
            return Err(Failure::Usage(format!(
                "--from {place}: no dataset there ({STATE_FILE} is missing); give the place a \
                 `sync --to` wrote"
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
            return Err(Failure::Api(
                format!("{state_place} is gone: the dataset was moved or removed").into(),
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
        mut each: impl FnMut(OrganizationPublicApiUsage) -> Result<(), Failure>,
    ) -> Result<Vec<NaiveDate>, Failure> {
        let mut missing = Vec::new();
        let mut day = days.first();
        loop {
            let path = dataset::day_path(day);
            match self.store.get(&path).await? {
                None => missing.push(day),
                Some(bytes) => {
                    let place = format!("{}/{path}", self.place);
                    read_day(bytes, day, columns, &place, &mut each)?;
                }
            }
            if day >= days.last() {
                break;
            }
            day = day.succ_opt().unwrap_or(days.last());
        }
        Ok(missing)
    }
}

/// A Store error names the flag it was opened by; here that is `--from`.
fn relabel(failure: Failure, from: &str, to: &str) -> Failure {
    match failure {
        Failure::Usage(text) => Failure::Usage(text.replace(from, to)),
        other => other,
    }
}

/// A day file that cannot be read (truncated, not Parquet, a foreign or mistyped column)
/// ends the command with exit 1 and names the file.
fn unreadable(place: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Api(
        format!(
            "{place}: not a day of this dataset: {why}; sync the day again (`sync --since`) or \
             restore the file"
        )
        .into(),
    )
}

fn read_day(
    bytes: Vec<u8>,
    day: NaiveDate,
    columns: &[Column],
    place: &str,
    each: &mut impl FnMut(OrganizationPublicApiUsage) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| unreadable(place, e))?;
    let schema = builder.schema().clone();
    if let Some(foreign) = schema.fields().iter().find(|f| !known_column(f.name())) {
        return Err(unreadable(
            place,
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
            return Err(unreadable(place, format!("it has no column {name:?}")));
        }
    }
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| unreadable(place, e))?;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(place, e))?;
        decode(&batch, day, columns, with_date, place, each)?;
    }
    Ok(())
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
    each: &mut impl FnMut(OrganizationPublicApiUsage) -> Result<(), Failure>,
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
            count.push((column, counts(array.as_ref()).ok_or_else(mistyped)?));
        } else {
            text.push((column, texts(array.as_ref()).ok_or_else(mistyped)?));
        }
    }
    for i in 0..rows {
        let mut row = OrganizationPublicApiUsage {
            date: Some(day),
            ..Default::default()
        };
        let (mut client_id, mut client_name, mut user_id) = (None, None, None);
        for (column, values) in &text {
            let value = values[i].map(str::to_string);
            match column {
                Column::OauthClientId => client_id = value,
                Column::OauthClientName => client_name = value,
                Column::UserId => user_id = value,
                Column::Platform => row.platform = value,
                Column::HttpMethod => row.http_method = value.map(|m| HttpMethod::from(m.as_str())),
                Column::TemplateUri => row.template_uri = value,
                _ => {}
            }
        }
        if client_id.is_some() || client_name.is_some() {
            row.oauth_client = Some(DomainEntityRef {
                id: client_id,
                name: client_name,
                self_uri: None,
            });
        }
        if user_id.is_some() {
            row.user = Some(UserReference {
                id: user_id,
                self_uri: None,
            });
        }
        for (column, values) in &count {
            let value = values[i];
            match column {
                Column::RequestCount => row.request_count = value,
                Column::Status200 => row.status200 = value,
                Column::Status300 => row.status300 = value,
                Column::Status400 => row.status400 = value,
                Column::Status429 => row.status429 = value,
                Column::Status500 => row.status500 = value,
                _ => {}
            }
        }
        each(row)?;
    }
    Ok(())
}
