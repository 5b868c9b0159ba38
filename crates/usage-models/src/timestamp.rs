//! `Timestamp`: the `date-time` of the usage rows.
//!
//! A results body can hold hundreds of thousands of rows, each with a date. The service
//! writes them as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; that form is decoded here directly,
//! anything else falls back to chrono's RFC 3339 parser, so every input chrono accepts is
//! still accepted, with the same value.

use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeZone as _, Utc};

/// A UTC instant; dereferences to [`chrono::DateTime<Utc>`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The chrono value.
    pub fn into_inner(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses an RFC 3339 date-time as the service sends it (and any form chrono accepts).
    pub fn parse(s: &str) -> Result<Self, chrono::ParseError> {
        if let Some(t) = fast_utc(s.as_bytes()) {
            return Ok(Self(t));
        }
        s.parse::<DateTime<Utc>>().map(Self)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` only; `None` sends the caller to chrono.
fn fast_utc(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut nanos = 0u32;
    match &b[19..] {
        [b'Z'] => {}
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            for &c in fraction {
                if !c.is_ascii_digit() {
                    return None;
                }
                nanos = nanos * 10 + u32::from(c - b'0');
            }
            nanos *= 10u32.pow(9 - fraction.len() as u32);
        }
        _ => return None,
    }
    // Leap seconds and anything odd go to chrono, which knows the rules.
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

impl Deref for Timestamp {
    type Target = DateTime<Utc>;
    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl std::str::FromStr for Timestamp {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// As chrono shows it, e.g. `2026-10-01T00:00:00Z`.
impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// The same text chrono writes for a `DateTime<Utc>`.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse(s).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2026-10-01T00:00:00Z",
            "2026-10-02T00:00:00.000Z",
            "2026-10-02T23:59:59.123456789Z",
            "2024-02-29T12:30:45.5Z",
            "1970-01-01T00:00:00Z",
        ] {
            let fast = fast_utc(s.as_bytes()).unwrap_or_else(|| panic!("{s} takes the fast path"));
            assert_eq!(fast, s.parse::<DateTime<Utc>>().unwrap(), "{s}");
        }
    }

    #[test]
    fn other_forms_fall_back_to_chrono() {
        for s in [
            "2026-10-01T00:00:00+02:00",
            "2026-10-01t00:00:00z",
            "2026-10-01 00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2026-10-01T00:00:00.1234567890Z",
        ] {
            assert!(fast_utc(s.as_bytes()).is_none(), "{s}");
            assert_eq!(
                Timestamp::parse(s).ok().map(Timestamp::into_inner),
                s.parse::<DateTime<Utc>>().ok(),
                "{s}"
            );
        }
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-10-01T24:00:00Z",
            "2026-1x-01T00:00:00Z",
            "",
            "Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serializes_as_chrono_does() {
        for s in [
            "2026-10-02T00:00:00.000Z",
            "2026-10-02T00:00:00.120Z",
            "2026-10-02T00:00:00Z",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                serde_json::to_string(&t.0).unwrap()
            );
        }
    }
}
