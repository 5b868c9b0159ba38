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

#[tokio::test]
async fn every_change_request_comes_back_once_through_halved_windows() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        LISTING => {
            let (after, before) = (
                param(&req.target, "after").unwrap_or(i64::MIN),
                param(&req.target, "before").unwrap_or(i64::MAX),
            );
            let size = param(&req.target, "pageSize").unwrap_or(25) as usize;
            let inside: Vec<i64> = (0..250)
                .filter(|&i| (after..=before).contains(&created(i)))
                .collect();
            let entities: Vec<_> = inside
                .iter()
                .take(size)
                .map(|&i| {
                    let at = DateTime::from_timestamp_millis(created(i)).unwrap();
                    json!({"id": format!("cr-{i:03}"), "key": "k", "namespace": "platform.api",
                           "requestedValue": 600.0, "description": "d", "supportCaseUrl": "u",
                           "dateCreated": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
                })
                .collect();
            let mut body = json!({"entities": entities});
            if inside.len() > size {
                body["nextUri"] = json!(format!("{LISTING}?pageNumber=2"));
            }
            Act::json(200, body)
        }
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
        let server = Hostile::start(move |req, _| match req.path() {
            TOKEN => token_ok(),
            LISTING => {
                let (after, before) = (
                    param(&req.target, "after").unwrap_or(i64::MIN),
                    param(&req.target, "before").unwrap_or(i64::MAX),
                );
                let within = |t: i64| {
                    if inclusive {
                        after <= t && t <= before
                    } else {
                        after < t && t < before
                    }
                };
                let size = param(&req.target, "pageSize").unwrap_or(25) as usize;
                // Request 250 has no id and sits at the middle instant.
                let at = |i: i64| if i == 250 { middle } else { created(i) };
                let inside: Vec<i64> = (0..=250).filter(|&i| within(at(i))).collect();
                let entities: Vec<_> = inside
                    .iter()
                    .take(size)
                    .map(|&i| {
                        let when = DateTime::from_timestamp_millis(at(i)).unwrap();
                        let mut r = json!({"key": "k", "namespace": "platform.api",
                               "requestedValue": 600.0, "description": format!("d{i}"),
                               "supportCaseUrl": "u",
                               "dateCreated": when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
                        if i != 250 {
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
