//! Whether a failed send may be sent again: the retry classifier, apart from the backoff
//! strategy (policy.rs) and the loop that applies both (driver.rs).

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

/// What a send's outcome allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Hand it to the caller.
    Done,
    /// 401: renew the token and replay once.
    Reauthenticate,
    /// Transient: send again, no sooner than `retry_after` if the service said so.
    Retry { retry_after: Option<Duration> },
}

pub(crate) fn classify(
    idempotent: bool,
    outcome: Result<(StatusCode, &reqwest::header::HeaderMap), &reqwest::Error>,
) -> Class {
    match outcome {
        Ok((status, headers)) => match status {
            StatusCode::UNAUTHORIZED => Class::Reauthenticate,
            StatusCode::TOO_MANY_REQUESTS => Class::Retry {
                retry_after: retry_after(headers),
            },
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
                if idempotent =>
            {
                Class::Retry {
                    retry_after: retry_after(headers),
                }
            }
            _ => Class::Done,
        },
        // Nothing reached the service: safe for every method.
        Err(e) if e.is_connect() => Class::Retry { retry_after: None },
        Err(_) if idempotent => Class::Retry { retry_after: None },
        Err(_) => Class::Done,
    }
}

/// `Retry-After` as a duration: delta-seconds, or an HTTP date (past dates mean now). A
/// number of seconds too large for `u64` reads as `u64::MAX` seconds: the server means
/// "long", and every caller caps what it waits.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(" 0 ")), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let parsed = retry_after(&headers(&soon)).unwrap();
        assert!(
            parsed <= Duration::from_secs(30) && parsed >= Duration::from_secs(28),
            "{parsed:?}"
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(
            retry_after(&headers("18446744073709551615")),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            retry_after(&headers("99999999999999999999999")),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(retry_after(&headers("-3")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
