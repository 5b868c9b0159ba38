//! The dataset `sync` writes: the org's daily usage as Hive-partitioned Parquet, one file
//! per day (`usage/granularity=day/date=YYYY-MM-DD/part-0.parquet`), the layout DuckDB,
//! Athena, Trino and Spark read as one table. The columns are `schema`'s: the job row's
//! fields as the CSV export flattens them, plus `synced_at`.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use usage_ext::models::OrganizationPublicApiUsage;

use crate::lake::schema::{self, Column};

/// The state file beside `usage/`: what was synced, of what, up to which day.
pub const STATE_FILE: &str = "_genesys_usage_sync.json";

/// Where one day's rows live, relative to the dataset's root.
pub fn day_path(day: NaiveDate) -> String {
    format!("usage/granularity=day/date={day}/part-0.parquet")
}

/// A row's group key: its text columns. Within a day no key may appear twice.
type Key = [Option<String>; 6];

fn key(row: &OrganizationPublicApiUsage) -> Key {
    Column::TEXTS.map(|c| c.text_of(row).map(str::to_string))
}

fn counts(row: &OrganizationPublicApiUsage) -> [Option<i64>; 6] {
    Column::COUNTS.map(|c| c.count_of(row))
}

/// One day's rows, gathered as they arrive.
#[derive(Debug)]
pub struct Day {
    pub date: NaiveDate,
    keys: HashSet<Key>,
    rows: Vec<(Key, [Option<i64>; 6])>,
}

impl Day {
    pub fn new(date: NaiveDate) -> Self {
        Self {
            date,
            keys: HashSet::new(),
            rows: Vec::new(),
        }
    }

    /// Adds a row of this day; `Err` with its key when the day already has that key (a
    /// service that sends a row twice must not double a count).
    pub fn add(&mut self, row: &OrganizationPublicApiUsage) -> Result<(), String> {
        let key = key(row);
        if !self.keys.insert(key.clone()) {
            let shown: Vec<&str> = key.iter().map(|k| k.as_deref().unwrap_or("")).collect();
            return Err(format!(
                "the service sent the row of {} for ({}) twice",
                self.date,
                shown.join(", ")
            ));
        }
        self.rows.push((key, counts(row)));
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.rows.len()
    }

    /// The day as one Parquet file (snappy, one row group).
    pub fn encode(&self, synced_at: DateTime<Utc>) -> Result<Vec<u8>, String> {
        let schema = schema::arrow();
        let n = self.rows.len();
        let days_since_epoch = (self.date - DateTime::UNIX_EPOCH.date_naive()).num_days();
        let mut date = Date32Builder::with_capacity(n);
        let mut texts: Vec<StringBuilder> = (0..Column::TEXTS.len())
            .map(|_| StringBuilder::new())
            .collect();
        let mut numbers: Vec<Int64Builder> = (0..Column::COUNTS.len())
            .map(|_| Int64Builder::with_capacity(n))
            .collect();
        let date32 = i32::try_from(days_since_epoch).map_err(|e| e.to_string())?;
        for (key, counts) in &self.rows {
            date.append_value(date32);
            for (builder, value) in texts.iter_mut().zip(key) {
                builder.append_option(value.as_deref());
            }
            for (builder, value) in numbers.iter_mut().zip(counts) {
                builder.append_option(*value);
            }
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(date.finish())];
        columns.extend(texts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.extend(numbers.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(
            TimestampMillisecondArray::from(vec![synced_at.timestamp_millis(); n])
                .with_timezone("UTC"),
        ));
        file(schema, columns)
    }
}

/// One day file of any of the tables: `columns` in `schema` as one Parquet file (snappy,
/// one row group), what DuckDB, Athena and Spark read by default.
pub fn file(schema: arrow_schema::SchemaRef, columns: Vec<ArrayRef>) -> Result<Vec<u8>, String> {
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, schema, Some(properties)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use usage_ext::models::DomainEntityRef;

    use super::*;

    fn row(client: &str, uri: &str, requests: i64) -> OrganizationPublicApiUsage {
        let mut row: OrganizationPublicApiUsage = serde_json::from_value(serde_json::json!({
            "date": "2026-11-30", "templateUri": uri, "httpMethod": "GET",
            "requestCount": requests, "status429": requests / 10,
        }))
        .unwrap();
        row.oauth_client = Some(DomainEntityRef {
            id: Some(client.into()),
            name: Some(format!("{client} name")),
            self_uri: None,
        });
        row
    }

    #[test]
    fn a_day_encodes_to_parquet_that_reads_back_with_its_schema_and_values() {
        let mut day = Day::new("2026-11-30".parse().unwrap());
        day.add(&row("a", "api/v2/users", 100)).unwrap();
        day.add(&row("b", "api/v2/users", 7)).unwrap();
        let synced_at = "2026-12-01T01:02:03Z".parse().unwrap();
        let bytes = day.encode(synced_at).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(batch.schema(), schema::arrow());
        assert_eq!(batch.num_rows(), 2);
        let dates = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Date32Array>()
            .unwrap();
        assert_eq!(dates.value_as_date(1), "2026-11-30".parse().ok());
        let requests = batch
            .column_by_name("requestCount")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        assert_eq!(requests.values(), &[100, 7]);
        let users = batch.column_by_name("userId").unwrap();
        assert_eq!(
            users.null_count(),
            2,
            "no user in the group-by: null, not \"\""
        );
        let names = batch
            .column_by_name("oauthClientName")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(names.value(1), "b name");
    }

    #[test]
    fn a_key_twice_in_a_day_is_refused() {
        let mut day = Day::new("2026-11-30".parse().unwrap());
        day.add(&row("a", "api/v2/users", 100)).unwrap();
        let err = day.add(&row("a", "api/v2/users", 5)).unwrap_err();
        assert!(err.contains("twice"), "{err}");
        assert_eq!(day.len(), 1);
    }

    #[test]
    fn an_empty_day_is_a_valid_file() {
        let bytes = Day::new("2026-11-30".parse().unwrap())
            .encode(Utc::now())
            .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }
}
