//! The dataset's second table: the hourly near-limit records of the rate-limit aggregates,
//! one file per day (`ratelimits/granularity=hour/date=YYYY-MM-DD/part-0.parquet`) beside the
//! usage, Hive-partitioned the same way so that DuckDB, Athena and Spark read it as a
//! table. A day `sync` covered has a file even without records, so a missing file means a
//! day not synced, never a quiet day.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use usage_ext::RateLimitRecord;

use crate::lake::schema::{self, LimitColumn};
use crate::lake::writer;

/// Where one day's records live, relative to the dataset's root.
pub fn day_path(day: NaiveDate) -> String {
    format!("ratelimits/granularity=hour/date={day}/part-0.parquet")
}

/// The records of one day as one Parquet file (snappy, one row group), in the columns of
/// [`schema::limits_arrow`]; a record of another day is refused (the service answered what
/// the window cannot hold).
pub fn encode(
    day: NaiveDate,
    records: &[&RateLimitRecord],
    synced_at: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let n = records.len();
    if let Some(r) = records.iter().find(|r| r.bucket_start.date_naive() != day) {
        return Err(format!(
            "a near-limit record of {} among the records of {day}",
            r.bucket_start
        ));
    }
    let texts = |of: fn(&RateLimitRecord) -> Option<&str>| -> ArrayRef {
        Arc::new(records.iter().map(|r| of(r)).collect::<StringArray>())
    };
    let numbers = |of: fn(&RateLimitRecord) -> Option<i64>| -> ArrayRef {
        Arc::new(records.iter().map(|r| of(r)).collect::<Int64Array>())
    };
    let mut columns: Vec<ArrayRef> = LimitColumn::ALL
        .iter()
        .map(|column| match column {
            LimitColumn::BucketStart => Arc::new(
                TimestampMillisecondArray::from(
                    records
                        .iter()
                        .map(|r| r.bucket_start.timestamp_millis())
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ) as ArrayRef,
            LimitColumn::EntityId => texts(|r| r.entity_id.as_deref()),
            LimitColumn::UserId => texts(|r| r.user_id.as_deref()),
            LimitColumn::LimitName => texts(|r| r.limit_key.as_deref()),
            LimitColumn::Namespace => texts(|r| r.namespace.as_deref()),
            LimitColumn::Max => numbers(|r| r.max),
            LimitColumn::Count => numbers(|r| Some(r.count)),
        })
        .collect();
    columns.push(Arc::new(
        TimestampMillisecondArray::from(vec![synced_at.timestamp_millis(); n]).with_timezone("UTC"),
    ));
    writer::file(schema::limits_arrow(), columns)
}

/// A day file's records; a file that is not this table's, or a record outside its day or
/// with a negative count, is refused with the reason. A column the table does not require
/// may be missing (a file written before it was added): its values are none.
pub fn decode(day: NaiveDate, bytes: Vec<u8>) -> Result<Vec<RateLimitRecord>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = |c: LimitColumn| -> Result<Option<&ArrayRef>, String> {
            match batch.column_by_name(c.name()) {
                Some(array) => Ok(Some(array)),
                None if c.required() => Err(format!("no column {}", c.name())),
                None => Ok(None),
            }
        };
        let texts = |c: LimitColumn| -> Result<Option<StringArray>, String> {
            column(c)?
                .map(|a| {
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .cloned()
                        .ok_or_else(|| format!("{} is not text", c.name()))
                })
                .transpose()
        };
        let numbers = |c: LimitColumn| -> Result<Option<Int64Array>, String> {
            column(c)?
                .map(|a| {
                    a.as_any()
                        .downcast_ref::<Int64Array>()
                        .cloned()
                        .ok_or_else(|| format!("{} is not a number", c.name()))
                })
                .transpose()
        };
        let start = column(LimitColumn::BucketStart)?
            .and_then(|a| a.as_any().downcast_ref::<TimestampMillisecondArray>())
            .cloned()
            .ok_or("bucketStart is not a timestamp")?;
        let entity = texts(LimitColumn::EntityId)?;
        let user = texts(LimitColumn::UserId)?;
        let limit = texts(LimitColumn::LimitName)?;
        let namespace = texts(LimitColumn::Namespace)?;
        let max = numbers(LimitColumn::Max)?;
        let count = numbers(LimitColumn::Count)?.ok_or("no column count")?;
        let text = |a: &Option<StringArray>, i: usize| {
            a.as_ref()
                .filter(|a| !a.is_null(i))
                .map(|a| a.value(i).to_string())
        };
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
                user_id: text(&user, i),
                limit_key: text(&limit, i),
                namespace: text(&namespace, i),
                max: max.as_ref().filter(|m| !m.is_null(i)).map(|m| m.value(i)),
                count: count.value(i),
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn record(hour: u32, count: i64) -> RateLimitRecord {
        RateLimitRecord {
            bucket_start: Utc.with_ymd_and_hms(2026, 11, 2, hour, 0, 0).unwrap(),
            entity_id: Some("c1".into()),
            user_id: None,
            limit_key: Some("client.credentials.token.rate.per.minute".into()),
            namespace: Some("platform.api".into()),
            max: Some(600),
            count,
        }
    }

    #[test]
    fn a_day_reads_back_as_written_and_a_lie_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let mut as_user = record(3, 1);
        as_user.user_id = Some("u1".into());
        as_user.limit_key = Some("org.app.user.rate.per.minute".into());
        let records = [record(2, 3), record(3, 1), as_user];
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

    /// A file written before `userId` was a column reads as records that name no user;
    /// one without a required column is refused.
    #[test]
    fn a_file_without_the_user_column_reads_and_one_without_a_count_does_not() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let bytes = encode(day, &[&record(2, 3)], Utc::now()).unwrap();
        let without = |name: &str| {
            let batch = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
                .unwrap()
                .build()
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            let keep: Vec<usize> = (0..batch.num_columns())
                .filter(|&i| batch.schema().field(i).name() != name)
                .collect();
            let batch = batch.project(&keep).unwrap();
            let mut out = Vec::new();
            let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
            out
        };
        assert_eq!(decode(day, without("userId")).unwrap(), vec![record(2, 3)]);
        assert_eq!(
            decode(day, without("count")).unwrap_err(),
            "no column count"
        );
    }
}
