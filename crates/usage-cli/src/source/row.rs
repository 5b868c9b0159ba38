//! What a command asks a source for, and the rows it gets: the daily rows of some days,
//! some columns, the same whether the API or a dataset answers.

use chrono::NaiveDate;
use usage_ext::DayWindow;
use usage_ext::models::{DomainEntityRef, HttpMethod, OrganizationPublicApiUsage, UserReference};

use crate::lake::schema::Column;

/// The rows of `days`: `columns` (the dimensions they are grouped by, the counters they
/// carry), day by day or summed over each job's window.
#[derive(Debug, Clone)]
pub struct Ask {
    pub days: DayWindow,
    pub columns: Vec<Column>,
    /// Day by day; else the API sums each job's window (a dataset's rows stay daily, and a
    /// caller that sums them gets the same).
    pub daily: bool,
    /// The dimensions a dataset must have been synced with to answer: without them its rows
    /// cannot be told apart (a dataset without `OauthClientId` cannot answer per client).
    pub needs: Vec<Column>,
    /// What the rows are for, in a refusal ("a report per OAuth client").
    pub purpose: &'static str,
}

/// One row, borrowed from the page or the batch it came in: the columns asked for, the
/// others absent. Reading a million rows allocates nothing per row.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// The day (`None` for a window's totals from the API).
    pub date: Option<NaiveDate>,
    texts: [Option<&'a str>; 6],
    counts: [Option<i64>; 6],
}

impl<'a> Row<'a> {
    /// A row of `date` with no column yet.
    pub fn empty(date: Option<NaiveDate>) -> Self {
        Self {
            date,
            texts: [None; 6],
            counts: [None; 6],
        }
    }

    /// A job's row, every column it has.
    pub fn of_model(row: &'a OrganizationPublicApiUsage) -> Self {
        Self {
            date: row.date,
            texts: Column::TEXTS.map(|c| c.text_of(row)),
            counts: Column::COUNTS.map(|c| c.count_of(row)),
        }
    }

    pub fn set_text(&mut self, column: Column, value: Option<&'a str>) {
        self.texts[column.slot()] = value;
    }

    pub fn set_count(&mut self, column: Column, value: Option<i64>) {
        self.counts[column.slot()] = value;
    }

    /// A text column (`""` when absent or not asked for).
    pub fn text(&self, column: Column) -> &'a str {
        match column.is_count() {
            true => "",
            false => self.texts[column.slot()].unwrap_or_default(),
        }
    }

    /// A counter (0 when absent or not asked for).
    pub fn count(&self, column: Column) -> i64 {
        match column.is_count() {
            true => self.counts[column.slot()].unwrap_or(0),
            false => 0,
        }
    }

    /// The row as the jobs API answers it, for an export or the exporter's sums.
    pub fn to_model(&self) -> OrganizationPublicApiUsage {
        let text = |c: Column| self.texts[c.slot()].map(str::to_string);
        let count = |c: Column| self.counts[c.slot()];
        let (id, name, user) = (
            text(Column::OauthClientId),
            text(Column::OauthClientName),
            text(Column::UserId),
        );
        OrganizationPublicApiUsage {
            date: self.date,
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
            http_method: self.texts[Column::HttpMethod.slot()].map(HttpMethod::from),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_models_row_reads_back_as_the_same_model() {
        let model: OrganizationPublicApiUsage = serde_json::from_value(serde_json::json!({
            "date": "2026-11-30", "oauthClient": {"id": "c", "name": "C"},
            "httpMethod": "GET", "templateUri": "api/v2/users",
            "requestCount": 10, "status429": 2,
        }))
        .unwrap();
        let row = Row::of_model(&model);
        assert_eq!(row.text(Column::OauthClientName), "C");
        assert_eq!(row.count(Column::Status429), 2);
        assert_eq!(row.count(Column::Status500), 0, "absent");
        assert_eq!(row.text(Column::RequestCount), "", "a counter is no text");
        assert_eq!(row.to_model(), model);
    }
}
