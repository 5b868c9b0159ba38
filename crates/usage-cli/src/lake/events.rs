//! The dataset's third table: the operational events, one file per day they were created
//! (`events/date=YYYY-MM-DD/part-0.parquet`), Hive-partitioned as the other two, so that a
//! year of them is kept where the service keeps days. A day `sync` covered has a file even
//! without events, so a missing file means a day not synced, never a quiet day.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, StringArray, TimestampMillisecondArray};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use usage_ext::models::{AddressableEntityRef, OperationalEvent};

use crate::lake::schema::{self, EVENT_COLUMNS, EVENT_CREATED, Holds};
use crate::lake::writer;

/// Where one day's events live, relative to the dataset's root.
pub fn day_path(day: NaiveDate) -> String {
    format!("events/date={day}/part-0.parquet")
}

/// An event as the table keeps it: the event, and its definition's name when the
/// definitions could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub event: OperationalEvent,
    pub event_definition_name: Option<String>,
}

/// A text column's value of `kept`.
fn text<'a>(name: &str, kept: &'a Kept) -> Option<&'a str> {
    let e = &kept.event;
    match name {
        "eventDefinitionId" => e.event_definition.as_ref().and_then(|d| d.id.as_deref()),
        "eventDefinitionName" => kept.event_definition_name.as_deref(),
        "entityId" => e.entity_id.as_deref(),
        "entityName" => e.entity_name.as_deref(),
        "entityToken" => e.entity_token.as_deref(),
        "parentEntityId" => e.parent_entity_id.as_deref(),
        "previousValue" => e.previous_value.as_deref(),
        "currentValue" => e.current_value.as_deref(),
        "errorCode" => e.error_code.as_deref(),
        _ => None,
    }
}

/// The events of one day as one Parquet file (snappy, one row group); an event of another
/// day, or without a date, is refused.
pub fn encode(
    day: NaiveDate,
    events: &[&Kept],
    synced_at: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let mut created = Vec::with_capacity(events.len());
    for kept in events {
        match kept.event.date_created {
            Some(at) if at.date_naive() == day => created.push(at.timestamp_millis()),
            Some(at) => return Err(format!("an event of {at} among the events of {day}")),
            None => {
                return Err(format!(
                    "an event without dateCreated among the events of {day}"
                ));
            }
        }
    }
    let mut columns: Vec<ArrayRef> = EVENT_COLUMNS
        .iter()
        .map(|(name, holds, _)| match holds {
            Holds::Instant => {
                Arc::new(TimestampMillisecondArray::from(created.clone()).with_timezone("UTC"))
                    as ArrayRef
            }
            _ => Arc::new(
                events
                    .iter()
                    .map(|kept| text(name, kept))
                    .collect::<StringArray>(),
            ),
        })
        .collect();
    columns.push(Arc::new(
        TimestampMillisecondArray::from(vec![synced_at.timestamp_millis(); events.len()])
            .with_timezone("UTC"),
    ));
    writer::file(schema::events_arrow(), columns)
}

/// A day file's events; a file that is not this table's, or an event outside its day, is
/// refused with the reason. A column the table does not require may be missing.
pub fn decode(day: NaiveDate, bytes: Vec<u8>) -> Result<Vec<Kept>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let created = batch
            .column_by_name(EVENT_CREATED)
            .ok_or_else(|| format!("no column {EVENT_CREATED}"))?
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .cloned()
            .ok_or_else(|| format!("{EVENT_CREATED} is not a timestamp"))?;
        let texts = |name: &str| -> Result<Option<StringArray>, String> {
            batch
                .column_by_name(name)
                .map(|a| {
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .cloned()
                        .ok_or_else(|| format!("{name} is not text"))
                })
                .transpose()
        };
        let columns: Vec<(&str, Option<StringArray>)> = EVENT_COLUMNS
            .iter()
            .filter(|(_, holds, _)| *holds == Holds::Text)
            .map(|(name, ..)| Ok((*name, texts(name)?)))
            .collect::<Result<_, String>>()?;
        for i in 0..batch.num_rows() {
            let at = DateTime::from_timestamp_millis(created.value(i))
                .ok_or("a dateCreated past the calendar")?;
            if at.date_naive() != day {
                return Err(format!("an event of {at} in the file of {day}"));
            }
            let value = |name: &str| {
                columns
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, a)| a.as_ref())
                    .filter(|a| !a.is_null(i))
                    .map(|a| a.value(i).to_string())
            };
            let definition = value("eventDefinitionId");
            events.push(Kept {
                event: OperationalEvent {
                    date_created: Some(at),
                    event_definition: definition.map(|id| AddressableEntityRef {
                        self_uri: Some(format!("/api/v2/usage/events/definitions/{id}")),
                        id: Some(id),
                    }),
                    entity_id: value("entityId"),
                    entity_name: value("entityName"),
                    entity_token: value("entityToken"),
                    parent_entity_id: value("parentEntityId"),
                    previous_value: value("previousValue"),
                    current_value: value("currentValue"),
                    error_code: value("errorCode"),
                    ..OperationalEvent::default()
                },
                event_definition_name: value("eventDefinitionName"),
            });
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn kept(hour: u32, entity: &str) -> Kept {
        Kept {
            event: OperationalEvent {
                date_created: Some(Utc.with_ymd_and_hms(2026, 11, 2, hour, 0, 0).unwrap()),
                event_definition: Some(AddressableEntityRef {
                    id: Some("d1".into()),
                    self_uri: Some("/api/v2/usage/events/definitions/d1".into()),
                }),
                entity_id: Some(entity.into()),
                entity_name: Some("Nightly WFM export".into()),
                current_value: Some("600".into()),
                ..OperationalEvent::default()
            },
            event_definition_name: Some("Rate limit near".into()),
        }
    }

    #[test]
    fn a_day_reads_back_as_written_and_a_lie_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let mut unnamed = kept(5, "c2");
        unnamed.event_definition_name = None;
        let events = [kept(2, "c1"), unnamed];
        let bytes = encode(day, &events.iter().collect::<Vec<_>>(), Utc::now()).unwrap();
        assert_eq!(decode(day, bytes.clone()).unwrap(), events.to_vec());
        let other = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert!(decode(other, bytes).unwrap_err().contains("in the file of"));
        assert!(encode(other, &[&events[0]], Utc::now()).is_err());
        let mut undated = kept(1, "c1");
        undated.event.date_created = None;
        assert!(encode(day, &[&undated], Utc::now()).is_err());
        let quiet = encode(day, &[], Utc::now()).unwrap();
        assert_eq!(
            decode(day, quiet).unwrap(),
            Vec::new(),
            "a quiet day has a file"
        );
    }
}
