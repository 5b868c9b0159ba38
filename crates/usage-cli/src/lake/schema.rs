//! The dataset's columns, in one table: the writer's Parquet schema, the reader's columns,
//! the CSV export's header and the API's group-by and metric of each derive from it, so that
//! a dataset and an export load into the same table and no name is spelled twice.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use usage_ext::models::{JobMetric, OrganizationJobGroupBy, OrganizationPublicApiUsage};

/// A column of a row: the six names and ids (the group-by dimensions), then the six
/// counters, in the order of the table, the files and the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The table: each column, its name in the files and the export, and whether it counts.
const TABLE: [(Column, &str, bool); 12] = [
    (Column::OauthClientId, "oauthClientId", false),
    (Column::OauthClientName, "oauthClientName", false),
    (Column::UserId, "userId", false),
    (Column::Platform, "platform", false),
    (Column::HttpMethod, "httpMethod", false),
    (Column::TemplateUri, "templateUri", false),
    (Column::RequestCount, "requestCount", true),
    (Column::Status200, "status200", true),
    (Column::Status300, "status300", true),
    (Column::Status400, "status400", true),
    (Column::Status429, "status429", true),
    (Column::Status500, "status500", true),
];

/// The day of a row, first in the files and the export.
pub const DATE: &str = "date";
/// When the sync wrote the file (the files only).
pub const SYNCED_AT: &str = "synced_at";
/// The partition column of the day directories, which a reader may write back as a column.
pub const GRANULARITY: &str = "granularity";

/// The CSV export's header of a job row: the date, then the table's names in its order.
pub const EXPORT: [&str; 13] = [
    DATE,
    TABLE[0].1,
    TABLE[1].1,
    TABLE[2].1,
    TABLE[3].1,
    TABLE[4].1,
    TABLE[5].1,
    TABLE[6].1,
    TABLE[7].1,
    TABLE[8].1,
    TABLE[9].1,
    TABLE[10].1,
    TABLE[11].1,
];

impl Column {
    /// Every column, in the table's order.
    pub const ALL: [Column; 12] = [
        TABLE[0].0,
        TABLE[1].0,
        TABLE[2].0,
        TABLE[3].0,
        TABLE[4].0,
        TABLE[5].0,
        TABLE[6].0,
        TABLE[7].0,
        TABLE[8].0,
        TABLE[9].0,
        TABLE[10].0,
        TABLE[11].0,
    ];

    /// The names and ids.
    pub const TEXTS: [Column; 6] = [
        Column::OauthClientId,
        Column::OauthClientName,
        Column::UserId,
        Column::Platform,
        Column::HttpMethod,
        Column::TemplateUri,
    ];

    /// The counters.
    pub const COUNTS: [Column; 6] = [
        Column::RequestCount,
        Column::Status200,
        Column::Status300,
        Column::Status400,
        Column::Status429,
        Column::Status500,
    ];

    /// What a client's endpoints are summed from: the client, the endpoint, its requests
    /// and 429s (the report's and the evidence's totals).
    pub const ENDPOINT_TOTALS: [Column; 6] = [
        Column::OauthClientId,
        Column::OauthClientName,
        Column::TemplateUri,
        Column::HttpMethod,
        Column::RequestCount,
        Column::Status429,
    ];

    /// Its place in the table (the declaration's order; a test holds the two together).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its place among the texts, or among the counters.
    pub fn slot(self) -> usize {
        self.index() % 6
    }

    /// Its name in the files and the export.
    pub fn name(self) -> &'static str {
        TABLE[self.index()].1
    }

    /// Whether it is a counter.
    pub fn is_count(self) -> bool {
        TABLE[self.index()].2
    }

    /// The group-by that fills it in a job's rows (the client's id and name come together).
    pub fn group_by(self) -> Option<OrganizationJobGroupBy> {
        Some(match self {
            Column::OauthClientId | Column::OauthClientName => {
                OrganizationJobGroupBy::OauthClientId
            }
            Column::UserId => OrganizationJobGroupBy::UserId,
            Column::Platform => OrganizationJobGroupBy::Platform,
            Column::HttpMethod => OrganizationJobGroupBy::HttpMethod,
            Column::TemplateUri => OrganizationJobGroupBy::TemplateUri,
            _ => return None,
        })
    }

    /// The metric that fills it in a job's rows.
    pub fn metric(self) -> Option<JobMetric> {
        Some(match self {
            Column::RequestCount => JobMetric::Requests,
            Column::Status200 => JobMetric::Status200,
            Column::Status300 => JobMetric::Status300,
            Column::Status400 => JobMetric::Status400,
            Column::Status429 => JobMetric::Status429,
            Column::Status500 => JobMetric::Status500,
            _ => return None,
        })
    }

    /// Its value in a job's row, when it is a text.
    pub fn text_of(self, row: &OrganizationPublicApiUsage) -> Option<&str> {
        let client = row.oauth_client.as_ref();
        match self {
            Column::OauthClientId => client.and_then(|c| c.id.as_deref()),
            Column::OauthClientName => client.and_then(|c| c.name.as_deref()),
            Column::UserId => row.user.as_ref().and_then(|u| u.id.as_deref()),
            Column::Platform => row.platform.as_deref(),
            Column::HttpMethod => row.http_method.as_ref().map(|m| m.as_str()),
            Column::TemplateUri => row.template_uri.as_deref(),
            _ => None,
        }
    }

    /// Its value in a job's row, when it is a counter.
    pub fn count_of(self, row: &OrganizationPublicApiUsage) -> Option<i64> {
        match self {
            Column::RequestCount => row.request_count,
            Column::Status200 => row.status200,
            Column::Status300 => row.status300,
            Column::Status400 => row.status400,
            Column::Status429 => row.status429,
            Column::Status500 => row.status500,
            _ => None,
        }
    }
}

/// Whether a file may hold a column of this name: the table's, the date, the sync's time,
/// and the partition a reader wrote back.
pub fn known(name: &str) -> bool {
    name == DATE || name == SYNCED_AT || name == GRANULARITY || TABLE.iter().any(|c| c.1 == name)
}

/// The files' schema: the date (DATE), the names and ids (UTF8, null where the row's
/// group-by leaves them out), the counters (INT64), `synced_at` (TIMESTAMP in ms, UTC).
pub fn arrow() -> SchemaRef {
    let mut fields = vec![Field::new(DATE, DataType::Date32, false)];
    fields.extend(Column::ALL.iter().map(|c| {
        let kind = if c.is_count() {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        Field::new(c.name(), kind, true)
    }));
    fields.push(Field::new(
        SYNCED_AT,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    ));
    Arc::new(Schema::new(fields))
}

/// A column of the second table, the hourly near-limit records: the rate-limit aggregates'
/// names, in the table's order, then `synced_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitColumn {
    BucketStart,
    EntityId,
    UserId,
    LimitName,
    Namespace,
    Max,
    Count,
}

/// What a column of the near-limit records holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// An instant, in milliseconds, UTC.
    Instant,
    Text,
    Number,
}

/// The near-limit records' table: each column, its name, what it holds and whether every
/// record has it. `userId` came after the first datasets were written: a file without it
/// reads as records that name no user.
const LIMIT_TABLE: [(LimitColumn, &str, Holds, bool); 7] = [
    (
        LimitColumn::BucketStart,
        "bucketStart",
        Holds::Instant,
        true,
    ),
    (LimitColumn::EntityId, "entityId", Holds::Text, false),
    (LimitColumn::UserId, "userId", Holds::Text, false),
    (LimitColumn::LimitName, "limitName", Holds::Text, false),
    (LimitColumn::Namespace, "namespace", Holds::Text, false),
    (LimitColumn::Max, "max", Holds::Number, false),
    (LimitColumn::Count, "count", Holds::Number, true),
];

impl LimitColumn {
    /// Every column, in the table's order.
    pub const ALL: [LimitColumn; 7] = [
        LIMIT_TABLE[0].0,
        LIMIT_TABLE[1].0,
        LIMIT_TABLE[2].0,
        LIMIT_TABLE[3].0,
        LIMIT_TABLE[4].0,
        LIMIT_TABLE[5].0,
        LIMIT_TABLE[6].0,
    ];

    /// Its name in the files.
    pub fn name(self) -> &'static str {
        LIMIT_TABLE[self as usize].1
    }

    /// What it holds.
    pub fn holds(self) -> Holds {
        LIMIT_TABLE[self as usize].2
    }

    /// Whether every record has it.
    pub fn required(self) -> bool {
        LIMIT_TABLE[self as usize].3
    }
}

/// The near-limit records' files' schema: the table's columns, then `synced_at`.
pub fn limits_arrow() -> SchemaRef {
    arrow_of(
        LimitColumn::ALL
            .iter()
            .map(|c| (c.name(), c.holds(), c.required())),
    )
}

/// The third table, the operational events, one file per day of `dateCreated`: each
/// column's name (the events' own, and the definition's name as the definitions said it
/// when the day was synced), what it holds and whether every event has it.
pub const EVENT_COLUMNS: [(&str, Holds, bool); 10] = [
    (EVENT_CREATED, Holds::Instant, true),
    ("eventDefinitionId", Holds::Text, false),
    ("eventDefinitionName", Holds::Text, false),
    ("entityId", Holds::Text, false),
    ("entityName", Holds::Text, false),
    ("entityToken", Holds::Text, false),
    ("parentEntityId", Holds::Text, false),
    ("previousValue", Holds::Text, false),
    ("currentValue", Holds::Text, false),
    ("errorCode", Holds::Text, false),
];

/// When an event was created: the day its file is of.
pub const EVENT_CREATED: &str = "dateCreated";

/// The operational events' files' schema: the table's columns, then `synced_at`.
pub fn events_arrow() -> SchemaRef {
    arrow_of(EVENT_COLUMNS.iter().copied())
}

fn arrow_of<'a>(columns: impl Iterator<Item = (&'a str, Holds, bool)>) -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let mut fields: Vec<Field> = columns
        .map(|(name, holds, required)| {
            let kind = match holds {
                Holds::Instant => utc(),
                Holds::Text => DataType::Utf8,
                Holds::Number => DataType::Int64,
            };
            Field::new(name, kind, !required)
        })
        .collect();
    fields.push(Field::new(SYNCED_AT, utc(), false));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_declarations_order_texts_first() {
        for (place, (column, _, count)) in TABLE.iter().enumerate() {
            assert_eq!(column.index(), place, "{column:?}");
            assert_eq!(*count, place >= 6, "{column:?}");
        }
        assert_eq!(Column::ALL[..6], Column::TEXTS);
        assert_eq!(Column::ALL[6..], Column::COUNTS);
        assert_eq!(EXPORT[0], DATE);
        for (column, name) in Column::ALL.iter().zip(&EXPORT[1..]) {
            assert_eq!(column.name(), *name);
        }
    }

    #[test]
    fn the_files_schema_is_the_export_and_the_syncs_time() {
        let schema = arrow();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names[..13], EXPORT);
        assert_eq!(names[13], SYNCED_AT);
        assert!(names.iter().all(|n| known(n)));
        assert!(!known("oauthClient"));
    }

    #[test]
    fn the_limits_table_is_in_the_declarations_order() {
        for (place, (column, ..)) in LIMIT_TABLE.iter().enumerate() {
            assert_eq!(*column as usize, place, "{column:?}");
        }
        let schema = limits_arrow();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "bucketStart",
                "entityId",
                "userId",
                "limitName",
                "namespace",
                "max",
                "count",
                SYNCED_AT
            ]
        );
    }
}
