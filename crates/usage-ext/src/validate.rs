//! Input checks that run before any request, so a bad query costs no call (and no rate
//! limit) and says exactly what to fix.

use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ClientGroupBy, Interval, IntervalError,
};

/// An input the service would refuse (or that would address the wrong resource).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The interval is not ISO-8601 `start/end` with start before end.
    #[error(transparent)]
    Interval(#[from] IntervalError),
    /// `days` must be a positive whole number.
    #[error("days must be a positive whole number of days, got {0}")]
    Days(String),
    /// An id is empty, blank, or a path dot segment.
    #[error("{name} {value:?} is not a usable id: pass the id the service returned")]
    Id {
        /// Which id (`executionId`, `clientId`).
        name: &'static str,
        /// The value given.
        value: String,
    },
    /// `UserId` in the `groupBy` of an OAuth client query.
    #[error(
        "an OAuth client query cannot group by UserId; group by user with an organization query"
    )]
    ClientGroupByUserId,
}

/// An id that addresses exactly one resource.
pub fn id(name: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() || value == "." || value == ".." {
        return Err(ValidationError::Id {
            name,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// `days` of the summary: 1 or more.
pub fn days(days: u32) -> Result<(), ValidationError> {
    if days == 0 {
        return Err(ValidationError::Days(days.to_string()));
    }
    Ok(())
}

/// `days` given as text (a command line, a config file).
pub fn parse_days(text: &str) -> Result<u32, ValidationError> {
    let parsed = text
        .trim()
        .parse::<u32>()
        .map_err(|_| ValidationError::Days(format!("{text:?}")))?;
    days(parsed).map(|()| parsed)
}

/// The organization query body.
pub fn organization_query(query: &ApiUsageOrganizationQuery) -> Result<(), ValidationError> {
    Interval::parse(&query.interval)?;
    Ok(())
}

/// The OAuth client query body.
pub fn client_query(query: &ApiUsageClientQuery) -> Result<(), ValidationError> {
    Interval::parse(&query.interval)?;
    if query.group_by.iter().any(|g| g.as_str() == "UserId") {
        return Err(ValidationError::ClientGroupByUserId);
    }
    // Unlisted values pass: they may be newer than this SDK, and the service judges them.
    debug_assert!(ClientGroupBy::VALUES.iter().all(|v| *v != "UserId"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_days() {
        for bad in ["", " ", ".", ".."] {
            assert!(id("executionId", bad).is_err(), "{bad:?}");
        }
        assert!(id("executionId", "..x").is_ok());
        assert_eq!(parse_days("30"), Ok(30));
        for bad in ["0", "-1", "7.5", "", "seven", "99999999999"] {
            let err = parse_days(bad).unwrap_err();
            assert!(err.to_string().contains("positive whole number"), "{err}");
        }
    }

    #[test]
    fn client_queries_cannot_group_by_user() {
        let q = ApiUsageClientQuery::new("2026-10/2026-11")
            .with_group_by([ClientGroupBy::from("UserId")]);
        assert_eq!(client_query(&q), Err(ValidationError::ClientGroupByUserId));
        let q =
            ApiUsageClientQuery::new("2026-10/2026-11").with_group_by([ClientGroupBy::HttpMethod]);
        assert_eq!(client_query(&q), Ok(()));
    }
}
