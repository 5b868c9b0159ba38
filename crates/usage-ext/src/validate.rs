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
    /// An aggregates query job's interval outside what the service takes.
    #[error(
        "the interval {interval:?} of an aggregates query job is refused by the service: {reason}"
    )]
    JobInterval {
        /// The interval given.
        interval: String,
        /// Which rule it breaks, in upstream's words.
        reason: &'static str,
    },
    /// A history that starts further back than the service keeps.
    #[error(
        "the interval starts {first}, more than a year ago: the Usage API keeps one year of \
         usage, so the earliest first day today is {earliest}"
    )]
    TooFarBack {
        /// The first day asked for.
        first: String,
        /// The earliest first day the service takes today.
        earliest: String,
    },
    /// A history that ends after the last complete day (UTC): the days after it have no
    /// complete usage yet, and a far end would be a job per 90 days against the rate limit.
    #[error(
        "the interval ends {last}, after {last_complete}, the last complete day (UTC): end it \
         on or before {last_complete}"
    )]
    NotYetComplete {
        /// The last day asked for.
        last: String,
        /// The last complete day: yesterday in UTC.
        last_complete: String,
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

/// The longest interval an aggregates query job takes (upstream: "End date cannot be more
/// than 90 days after the start").
pub const MAX_JOB_INTERVAL_DAYS: i64 = 90;

/// An aggregates query job's interval: ISO-8601, start not after end (both ends count), end at most 90 days
/// after the start, start at most a year before `now_unix` (seconds since the epoch).
pub fn job_interval(interval: &str, now_unix: i64) -> Result<(), ValidationError> {
    let parsed = Interval::parse_job(interval)?;
    let refuse = |reason| {
        Err(ValidationError::JobInterval {
            interval: interval.to_string(),
            reason,
        })
    };
    let (start, end) = (parsed.start.timestamp(), parsed.end.timestamp());
    if end - start > MAX_JOB_INTERVAL_DAYS * 86_400 {
        return refuse("end date cannot be more than 90 days after the start");
    }
    if start < now_unix - 366 * 86_400 {
        return refuse("start date cannot be more than a year ago");
    }
    Ok(())
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
        assert_eq!(days(30), Ok(()));
        let err = days(0).unwrap_err();
        assert!(err.to_string().contains("positive whole number"), "{err}");
    }

    #[test]
    fn job_intervals_span_at_most_90_days_from_at_most_a_year_ago() {
        let now = 1_793_000_000; // 2026-10-26
        assert_eq!(job_interval("2026-08-01/2026-10-01", now), Ok(()));
        let long = job_interval("2026-06-01/2026-10-01", now).unwrap_err();
        assert!(long.to_string().contains("90 days"), "{long}");
        let old = job_interval("2024-01-01/2024-02-01", now).unwrap_err();
        assert!(old.to_string().contains("a year ago"), "{old}");
        assert_eq!(
            job_interval("2026-10-01/2026-10-01", now),
            Ok(()),
            "one day"
        );
        assert!(matches!(
            job_interval("2026-10-01/2026-09-01", now),
            Err(ValidationError::Interval(_))
        ));
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
