//! The `interval` format of the query bodies: ISO-8601 `start/end`.
//!
//! The service accepts full timestamps (`2026-10-01T00:00:00Z`, `2026-10-01T00:00:00.000+02:00`),
//! local timestamps read as UTC (`2026-10-01T00:00:00`, `2026-10-01T00:00`), and partial dates
//! that stand for their first instant (`2026-10-01`, `2026-10`, `2026`).
//!
//! The aggregates query jobs read an interval as days, "start and end are inclusive"
//! (upstream's definition): `2026-12-02/2026-12-02` is that one day, and
//! [`Interval::parse_job`] takes it where [`Interval::parse`] wants the start before the end.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone as _, Utc};

/// A parsed `start/end` interval; `start` is before `end` (a job's: not after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// The first instant.
    pub start: DateTime<Utc>,
    /// The instant after the last.
    pub end: DateTime<Utc>,
}

/// Why an interval string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalError {
    /// The string given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interval {:?} {}; expected ISO-8601 `start/end` such as \
             2026-10-01T00:00:00Z/2026-11-01T00:00:00Z or 2026-10/2026-11",
            self.input, self.reason
        )
    }
}

impl std::error::Error for IntervalError {}

impl Interval {
    /// Parses `start/end`, the start before the end.
    pub fn parse(input: &str) -> Result<Self, IntervalError> {
        Self::parse_with(input, false)
    }

    /// Parses an aggregates query job's `start/end`, whose ends are both included: the start
    /// may equal the end (`2026-12-02/2026-12-02`, one day), not follow it.
    pub fn parse_job(input: &str) -> Result<Self, IntervalError> {
        Self::parse_with(input, true)
    }

    fn parse_with(input: &str, inclusive: bool) -> Result<Self, IntervalError> {
        let fail = |reason: String| IntervalError {
            input: input.to_string(),
            reason,
        };
        let (start, end) = input
            .split_once('/')
            .ok_or_else(|| fail("has no `/` between start and end".into()))?;
        if end.contains('/') {
            return Err(fail("has more than one `/`".into()));
        }
        let start = parse_instant(start).map_err(|r| fail(format!("has a bad start: {r}")))?;
        let end = parse_instant(end).map_err(|r| fail(format!("has a bad end: {r}")))?;
        if inclusive && start > end {
            return Err(fail("starts after it ends".into()));
        }
        if !inclusive && start >= end {
            return Err(fail("does not start before it ends".into()));
        }
        Ok(Self { start, end })
    }
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s != s.trim() {
        return Err(format!("{s:?} has surrounding spaces"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    let date = match s.len() {
        10 => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        7 => NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok(),
        4 if s.bytes().all(|b| b.is_ascii_digit()) => {
            NaiveDate::parse_from_str(&format!("{s}-01-01"), "%Y-%m-%d").ok()
        }
        _ => None,
    };
    date.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| format!("{s:?} is not an ISO-8601 date or date-time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        for ok in [
            "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z",
            "2026-10-01T00:00:00.000Z/2026-10-01T00:00:00.001Z",
            "2026-10-01T00:00:00+02:00/2026-10-01T00:00:00Z",
            "2026-10-01T00:00:00/2026-10-02T00:00:00",
            "2026-10-01T08:30/2026-10-01T09:00",
            "2026-10-01/2026-11-01",
            "2020-01/2020-06",
            "2019/2020",
        ] {
            let parsed = Interval::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(parsed.start < parsed.end);
        }
        let p = Interval::parse("2020-01/2020-06").unwrap();
        assert_eq!(p.start.to_rfc3339(), "2020-01-01T00:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2020-06-01T00:00:00+00:00");
    }

    #[test]
    fn a_job_interval_may_be_one_day_not_backwards() {
        let day = Interval::parse_job("2026-12-02/2026-12-02").unwrap();
        assert_eq!(day.start, day.end);
        assert!(Interval::parse("2026-12-02/2026-12-02").is_err());
        assert!(Interval::parse_job("2026-12-01/2026-12-02").is_ok());
        let back = Interval::parse_job("2026-12-03/2026-12-02").unwrap_err();
        assert!(back.to_string().contains("starts after it ends"), "{back}");
    }

    #[test]
    fn refused_forms_say_why() {
        for (bad, why) in [
            ("2026-10-01", "no `/`"),
            ("2026-11-01/2026-10-01", "does not start before"),
            ("2026-10-01/2026-10-01", "does not start before"),
            ("/2026-10-01", "bad start"),
            ("2026-10-01/", "bad end"),
            ("2026-13-01/2026-14-01", "bad start"),
            ("2026-02-30/2026-03-01", "bad start"),
            ("yesterday/today", "bad start"),
            ("2026-10-01/2026-11-01/2026-12-01", "more than one"),
            (" 2026-10-01/2026-11-01", "surrounding spaces"),
            ("P1D/2026-11-01", "bad start"),
        ] {
            let err = Interval::parse(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
            assert!(err.to_string().contains("ISO-8601"), "{err}");
        }
    }
}
