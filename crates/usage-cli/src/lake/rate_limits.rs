//! The dataset's second table: the hourly near-limit records of the rate-limit aggregates,
//! one file per day (`ratelimits/granularity=hour/date=YYYY-MM-DD/part-0.parquet`) beside the
//! usage, Hive-partitioned the same way so that DuckDB, Athena and Spark read it as a
//! table. A day `sync` covered has a file even without records, so a missing file means a
//! day not synced, never a quiet day.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use usage_ext::RateLimitRecord;

/// Where one day's records live, relative to the dataset's root.
pub fn day_path(day: NaiveDate) -> String {
    format!("ratelimits/granularity=hour/date={day}/part-0.parquet")
}

/// The table's columns, the rate-limit aggregates' names.
pub fn arrow() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("bucketStart", utc(), false),
        Field::new("entityId", DataType::Utf8, true),
        Field::new("limitName", DataType::Utf8, true),
        Field::new("namespace", DataType::Utf8, true),
        Field::new("max", DataType::Int64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("synced_at", utc(), false),
    ]))
}

/// The records of one day as one Parquet file (snappy, one row group); a record of another
/// day is refused (the service answered what the window cannot hold).
pub fn encode(
    day: NaiveDate,
    records: &[&RateLimitRecord],
    synced_at: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let n = records.len();
    let mut start = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut entity = StringBuilder::new();
    let mut limit = StringBuilder::new();
    let mut namespace = StringBuilder::new();
    let mut max = Int64Builder::with_capacity(n);
    let mut count = Int64Builder::with_capacity(n);
    for r in records {
        if r.bucket_start.date_naive() != day {
            return Err(format!(
                "a near-limit record of {} among the records of {day}",
                r.bucket_start
            ));
        }
        start.append_value(r.bucket_start.timestamp_millis());
        entity.append_option(r.entity_id.as_deref());
        limit.append_option(r.limit_key.as_deref());
        namespace.append_option(r.namespace.as_deref());
        max.append_option(r.max);
        count.append_value(r.count);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(start.finish()),
        Arc::new(entity.finish()),
        Arc::new(limit.finish()),
        Arc::new(namespace.finish()),
        Arc::new(max.finish()),
        Arc::new(count.finish()),
        Arc::new(
            TimestampMillisecondArray::from(vec![synced_at.timestamp_millis(); n])
                .with_timezone("UTC"),
        ),
    ];
    let schema = arrow();
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

/// A day file's records; a file that is not this table's, or a record outside its day or
/// with a negative count, is refused with the reason.
pub fn decode(day: NaiveDate, bytes: Vec<u8>) -> Result<Vec<RateLimitRecord>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("no column {name}"))
        };
        let texts = |name: &str| -> Result<StringArray, String> {
            column(name)?
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| format!("{name} is not text"))
        };
        let numbers = |name: &str| -> Result<Int64Array, String> {
            column(name)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or_else(|| format!("{name} is not a number"))
        };
        let start = column("bucketStart")?
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .cloned()
            .ok_or("bucketStart is not a timestamp")?;
        let (entity, limit, namespace) =
            (texts("entityId")?, texts("limitName")?, texts("namespace")?);
        let (max, count) = (numbers("max")?, numbers("count")?);
        let text = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
        for i in 0..batch.num_rows() {
            let bucket_start = DateTime::from_timestamp_millis(start.value(i))
                .ok_or("a bucket start past the calendar")?;
            if bucket_start.date_naive() != day {
                return Err(format!("a record of {bucket_start} in the file of {day}"));
            }
            if count.value(i) < 0 {
                return Err(format!("a negative count ({})", count.value(i)));
            }
            records.push(RateLimitRecord {
                bucket_start,
                entity_id: text(&entity, i),
                limit_key: text(&limit, i),
                namespace: text(&namespace, i),
                max: (!max.is_null(i)).then(|| max.value(i)),
                count: count.value(i),
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn record(hour: u32, count: i64) -> RateLimitRecord {
        RateLimitRecord {
            bucket_start: Utc.with_ymd_and_hms(2026, 11, 2, hour, 0, 0).unwrap(),
            entity_id: Some("c1".into()),
            limit_key: Some("client.credentials.token.rate.per.minute".into()),
            namespace: Some("platform.api".into()),
            max: Some(600),
            count,
        }
    }

    #[test]
    fn a_day_reads_back_as_written_and_a_lie_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let records = [record(2, 3), record(3, 1)];
        let bytes = encode(day, &records.iter().collect::<Vec<_>>(), Utc::now()).unwrap();
        assert_eq!(decode(day, bytes.clone()).unwrap(), records.to_vec());
        let other = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert!(decode(other, bytes).unwrap_err().contains("in the file of"));
        assert!(encode(other, &[&records[0]], Utc::now()).is_err());
        let empty = encode(day, &[], Utc::now()).unwrap();
        assert_eq!(
            decode(day, empty).unwrap(),
            Vec::new(),
            "a quiet day has a file"
        );
    }
}
