//! The counts a row carries, checked where rows come in: a count is never negative, so a
//! negative one is a malformed answer (or a malformed dataset file), named and refused
//! before anything is summed or subtracted, instead of wrapping or panicking in the sums.

use usage_ext::models::{ApiUsageRow, OrganizationPublicApiUsage};

use crate::exit::Failure;
use crate::lake::schema::Column;

fn refuse(field: &str, value: i64, whose: &str) -> Failure {
    Failure::Malformed(format!(
        "the service sent a malformed row: {field} is {value}, a negative count ({whose}); \
         nothing of it was counted"
    ))
}

/// The first of `fields` whose count is negative.
fn negative<'a>(fields: &[(&'a str, Option<i64>)]) -> Option<(&'a str, i64)> {
    fields
        .iter()
        .find_map(|(field, value)| value.filter(|v| *v < 0).map(|v| (*field, v)))
}

/// A row of the aggregates query jobs.
pub fn check_job_row(row: &OrganizationPublicApiUsage) -> Result<(), Failure> {
    let fields = Column::COUNTS.map(|c| (c.name(), c.count_of(row)));
    match negative(&fields) {
        Some((field, value)) => {
            let client = row.oauth_client.as_ref().and_then(|c| c.id.as_deref());
            let date = row.date.map(|d| d.to_string());
            let whose = format!(
                "OAuth client {}, {}",
                client.unwrap_or("(none)"),
                date.as_deref().unwrap_or("no date")
            );
            Err(refuse(field, value, &whose))
        }
        None => Ok(()),
    }
}

/// A row of the original usage query.
pub fn check_query_row(row: &ApiUsageRow) -> Result<(), Failure> {
    let fields = [
        ("requests", row.requests),
        ("status200", row.status200),
        ("status300", row.status300),
        ("status400", row.status400),
        ("status429", row.status429),
        ("status500", row.status500),
    ];
    match negative(&fields) {
        Some((field, value)) => Err(refuse(
            field,
            value,
            &format!("OAuth client {}", row.client_id()),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_count_is_named_and_zero_or_absent_pass() {
        let mut row = OrganizationPublicApiUsage {
            request_count: Some(0),
            ..Default::default()
        };
        check_job_row(&row).unwrap();
        row.status429 = Some(i64::MIN);
        let err = check_job_row(&row).unwrap_err();
        let Failure::Malformed(e) = err else {
            panic!("{err:?}")
        };
        assert!(
            e.to_string().contains("status429 is -9223372036854775808"),
            "{e}"
        );
    }
}
