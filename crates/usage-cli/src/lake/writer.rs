//! The dataset `sync` writes: the org's daily usage as Hive-partitioned Parquet, one file
//! per day (`usage/granularity=day/date=YYYY-MM-DD/part-0.parquet`), the layout DuckDB,
//! Athena, Trino and Spark read as one table. The columns are the job row's fields as the
//! CSV export flattens them, plus `synced_at`.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use usage_ext::models::OrganizationPublicApiUsage;

use crate::render::output::Record;

/// The state file beside `usage/`: what was synced, of what, up to which day.
pub const STATE_FILE: &str = "_genesys_usage_sync.json";

/// Where one day's rows live, relative to the dataset's root.
pub fn day_path(day: NaiveDate) -> String {
    format!("usage/granularity=day/date={day}/part-0.parquet")
}

/// The CSV export's columns of a job row: `date`, the six names and ids, the six counters.
/// The files hold the same, so that a dataset and an export load into the same table.
fn export_columns() -> &'static [&'static str] {
    <OrganizationPublicApiUsage as Record>::columns()
}

/// The names and ids, in the order `key` reads them.
fn text_columns() -> &'static [&'static str] {
    &export_columns()[1..7]
}

/// The counters, in the order `counts` reads them.
fn count_columns() -> &'static [&'static str] {
    &export_columns()[7..13]
}

/// The files' schema: `date` (DATE), the names and ids (UTF8, null where the row's group-by
/// leaves them out), the counters (INT64), `synced_at` (TIMESTAMP in ms, UTC).
pub fn schema() -> SchemaRef {
    let mut fields = vec![Field::new("date", DataType::Date32, false)];
    fields.extend(
        text_columns()
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, true)),
    );
    fields.extend(
        count_columns()
            .iter()
            .map(|name| Field::new(*name, DataType::Int64, true)),
    );
    fields.push(Field::new(
        "synced_at",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    ));
    Arc::new(Schema::new(fields))
}

/// A row's group key: its text columns. Within a day no key may appear twice.
type Key = [Option<String>; 6];

fn key(row: &OrganizationPublicApiUsage) -> Key {
    let client = row.oauth_client.as_ref();
    [
        client.and_then(|c| c.id.clone()),
        client.and_then(|c| c.name.clone()),
        row.user.as_ref().and_then(|u| u.id.clone()),
        row.platform.clone(),
        row.http_method.as_ref().map(|m| m.as_str().to_string()),
        row.template_uri.clone(),
    ]
}

fn counts(row: &OrganizationPublicApiUsage) -> [Option<i64>; 6] {
    [
        row.request_count,
        row.status200,
        row.status300,
        row.status400,
        row.status429,
        row.status500,
    ]
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
        let schema = schema();
        let n = self.rows.len();
        let days_since_epoch = (self.date - DateTime::UNIX_EPOCH.date_naive()).num_days();
        let mut date = Date32Builder::with_capacity(n);
        let mut texts: Vec<StringBuilder> = (0..text_columns().len())
            .map(|_| StringBuilder::new())
            .collect();
        let mut numbers: Vec<Int64Builder> = (0..count_columns().len())
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
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(properties))
            .map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
        Ok(bytes)
    }
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
        assert_eq!(batch.schema(), schema());
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
    fn the_columns_are_the_csv_exports_in_the_order_rows_are_read() {
        assert_eq!(export_columns().len(), 13);
        assert_eq!(export_columns()[0], "date");
        assert_eq!(
            text_columns(),
            [
                "oauthClientId",
                "oauthClientName",
                "userId",
                "platform",
                "httpMethod",
                "templateUri"
            ]
        );
        assert_eq!(
            count_columns(),
            [
                "requestCount",
                "status200",
                "status300",
                "status400",
                "status429",
                "status500"
            ]
        );
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
