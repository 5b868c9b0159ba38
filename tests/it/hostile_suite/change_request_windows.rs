//! The change requests' listing has no page parameter: usage-ext halves the `after`/`before`
//! window until each fits in a page. Against a server that pages honestly, every request
//! comes back once; against one that always says there is more, the helper stops with an
//! error after a bounded number of listings instead of splitting forever.

use chrono::{DateTime, NaiveDate};
use usage_ext::DayWindow;

use super::*;

const LISTING: &str = "/api/v2/organizations/limits/changerequests";

fn param(target: &str, name: &str) -> Option<i64> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn november() -> DayWindow {
    DayWindow::new(
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .unwrap()
}

/// 250 requests, one every 2h52m from November's start: more than two pages of 100.
fn created(i: i64) -> i64 {
    let start = NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    start + i * 10_320_000
}

/// The listing of `requests` (each its creation instant and whether it has an id) as a
/// server pages it honestly: those within `after`/`before` (`inclusive` or not), a page of
/// `pageSize`, and a `nextUri` when more are inside.
fn listing(target: &str, requests: &[(i64, bool)], inclusive: bool) -> Act {
    let (after, before) = (
        param(target, "after").unwrap_or(i64::MIN),
        param(target, "before").unwrap_or(i64::MAX),
    );
    let within = |t: i64| {
        if inclusive {
            after <= t && t <= before
        } else {
            after < t && t < before
        }
    };
    let size = param(target, "pageSize").unwrap_or(25) as usize;
    let inside: Vec<usize> = (0..requests.len())
        .filter(|&i| within(requests[i].0))
        .collect();
    let entities: Vec<_> = inside
        .iter()
        .take(size)
        .map(|&i| {
            let (at, with_id) = requests[i];
            let when = DateTime::from_timestamp_millis(at).unwrap();
            let mut r = json!({"key": "k", "namespace": "platform.api",
                   "requestedValue": 600.0, "description": format!("d{i}"),
                   "supportCaseUrl": "u",
                   "dateCreated": when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
            if with_id {
                r["id"] = json!(format!("cr-{i:03}"));
            }
            r
        })
        .collect();
    let mut body = json!({"entities": entities});
    if inside.len() > size {
        body["nextUri"] = json!(format!("{LISTING}?pageNumber=2"));
    }
    Act::json(200, body)
}

#[tokio::test]
async fn every_change_request_comes_back_once_through_halved_windows() {
    let requests: Vec<(i64, bool)> = (0..250).map(|i| (created(i), true)).collect();
    let server = Hostile::start(move |req, _| match req.path() {
        TOKEN => token_ok(),
        LISTING => listing(&req.target, &requests, true),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let requests = queries.change_requests(november()).await.unwrap();
    let ids: Vec<String> = requests.iter().map(|r| r.id.clone().unwrap()).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("cr-{i:03}")).collect();
    assert_eq!(ids, expected, "each once, oldest first");
    let listings = server.count(LISTING);
    assert!(
        (3..=15).contains(&listings),
        "the whole month, then halves until each fits: {listings} listings"
    );
}

#[tokio::test]
async fn a_listing_that_always_says_more_stops_after_bounded_listings() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        LISTING => Act::json(
            200,
            json!({"entities": [{"id": "same", "key": "k", "namespace": "platform.api",
                                 "requestedValue": 1.0, "description": "d", "supportCaseUrl": "u"}],
                   "nextUri": format!("{LISTING}?pageNumber=2")}),
        ),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let err = queries.change_requests(november()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limits {
                operation: "getOrganizationsLimitsChangerequests",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("one millisecond"), "{err}");
    let listings = server.count(LISTING);
    // A month is 2.6e9 ms: 32 halvings reach one millisecond.
    assert!(
        listings <= 40,
        "depth first to a millisecond window, then the error: {listings}"
    );
}

#[tokio::test]
async fn a_listing_that_says_more_for_every_window_wider_than_an_hour_hits_the_listing_cap() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        LISTING => {
            let (after, before) = (
                param(&req.target, "after").unwrap_or(0),
                param(&req.target, "before").unwrap_or(0),
            );
            let mut body = json!({"entities": []});
            if before - after > 3_600_000 {
                body["nextUri"] = json!(format!("{LISTING}?pageNumber=2"));
            }
            Act::json(200, body)
        }
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let err = queries.change_requests(november()).await.unwrap_err();
    assert!(err.to_string().contains("did not fit"), "{err}");
    assert_eq!(
        server.count(LISTING),
        usage_ext::MAX_CHANGE_REQUEST_LISTINGS,
        "a month of hour windows is over a thousand listings: stopped at the cap"
    );
}

/// A server whose listing reads `after` and `before` as inclusive, or as exclusive: 250
/// requests with ids and one without, created at the exact middle instant of the first
/// halving, come back once each either way.
#[tokio::test]
async fn a_request_at_the_middle_instant_comes_back_once_whatever_the_ends_mean() {
    // The first window asked for (a millisecond wider than November) and its middle.
    let first = NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let end = NaiveDate::from_ymd_opt(2026, 12, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let (from, to) = (first - 1, end);
    let middle = from + (to - from) / 2;
    for inclusive in [true, false] {
        // Request 250 has no id and sits at the middle instant.
        let requests: Vec<(i64, bool)> = (0..250)
            .map(|i| (created(i), true))
            .chain([(middle, false)])
            .collect();
        let server = Hostile::start(move |req, _| match req.path() {
            TOKEN => token_ok(),
            LISTING => listing(&req.target, &requests, inclusive),
            _ => Act::json(404, json!({"status": 404})),
        })
        .await;
        let queries = queries(builder(&server).build().unwrap(), MAX_WAIT);
        let requests = queries.change_requests(november()).await.unwrap();
        let without_id = requests.iter().filter(|r| r.id.is_none()).count();
        assert_eq!(without_id, 1, "inclusive {inclusive}: the middle one once");
        let ids: std::collections::BTreeSet<String> =
            requests.iter().filter_map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), 250, "inclusive {inclusive}: every other once");
        assert_eq!(requests.len(), 251, "inclusive {inclusive}");
    }
}
