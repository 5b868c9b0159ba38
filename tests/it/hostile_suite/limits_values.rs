//! The limits family's answers with numbers no field can hold (past i64, past f64, negative
//! where a count is meant) and enum values no spec lists: every usage-ext helper returns,
//! typed (a value or a named error), and never panics. The numbers a helper reads itself
//! (a bucket's `max` as text, a count) are checked, not trusted.

use proptest::prelude::*;

use super::properties::runtime;
use super::*;

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("1e400".to_string()),
        Just("-1e308".to_string()),
        Just("99999999999999999999999999".to_string()),
        Just("0.5".to_string()),
        Just("-1".to_string()),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z.]{0,16}",
        Just("platform.api".to_string()),
        Just("ChangeImplemented".to_string()),
        Just("Minutes".to_string()),
    ]
}

/// Every limits path answered with `number` where a number goes and `word` where an enum
/// or a name goes.
fn bodies(n: &str, w: &str) -> Vec<(&'static str, String)> {
    let w = serde_json::to_string(w).unwrap();
    vec![
        (
            "/api/v2/analytics/ratelimits/aggregates/query",
            format!(
                r#"{{"results":[{{"group":{{"entityId":"e","limitName":{w},"namespace":{w},"max":"{n}"}},
                "data":[{{"interval":"2026-11-01T00:00:00.000Z/2026-11-01T01:00:00.000Z",
                "metrics":[{{"metric":"oRateLimitRecorded","stats":{{"count":{n},"max":{n}}}}},
                {{"metric":{w},"stats":{{"count":{n}}}}}]}}]}}]}}"#
            ),
        ),
        (
            "/api/v2/organizations/limits/namespaces/platform.api",
            format!(r#"{{"entities":[{{"key":"k","namespace":{w},"value":{n}}}]}}"#),
        ),
        (
            "/api/v2/organizations/limits/namespaces/platform.api/defaults",
            format!(r#"{{"entities":[{{"key":"k","namespace":{w},"value":{n}}}]}}"#),
        ),
        (
            "/api/v2/organizations/limits/docs",
            format!(
                r#"{{"namespaces":[{{"name":"platform.api","limits":[{{"key":"k","defaultValue":{n},
                "configurable":true,"trackable":true,"resource":{w}}}]}}]}}"#
            ),
        ),
        (
            "/api/v2/organizations/limits/changerequests",
            format!(
                r#"{{"entities":[{{"id":"a","key":"k","namespace":{w},"requestedValue":{n},
                "currentValue":{n},"status":{w},"description":"d","supportCaseUrl":"u",
                "rejectReason":{w},"statusHistory":[{{"status":{w},"previousStatus":{w},
                "namespace":{w},"dateStatusChanged":"2026-11-02T00:00:00.000Z"}}]}}]}}"#
            ),
        ),
        (
            "/api/v2/usage/events/query",
            format!(
                r#"{{"entities":[{{"eventDefinition":{{"id":{w},"name":{w}}},"entityId":"e",
                "currentValue":"{n}","dateCreated":"2026-11-02T00:00:00.000Z"}}]}}"#
            ),
        ),
        (
            "/api/v2/usage/events/aggregates/query",
            format!(
                r#"{{"interval":"x","eventDefinitionAggregates":[{{"eventDefinition":{{"id":{w}}},
                "eventCount":{n}}}]}}"#
            ),
        ),
    ]
}

async fn drive(n: String, w: String) -> Result<(), TestCaseError> {
    use futures_util::StreamExt as _;
    let answers = bodies(&n, &w);
    let server = Hostile::start(move |req, _| match req.path() {
        TOKEN => token_ok(),
        path => match answers.iter().find(|(p, _)| *p == path) {
            Some((_, body)) => Act::json(200, body),
            None => Act::json(404, json!({"status": 404})),
        },
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), MAX_WAIT);
    let interval = "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z";
    let days = usage_ext::DayWindow::new(
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .unwrap();
    let mut errors: Vec<String> = Vec::new();
    let mut note = |r: Result<(), Error>| {
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    };
    let records = queries
        .rate_limit_records(interval, usage_ext::Bucket::Hour)
        .await;
    match &records {
        // A count is what a bucket holds: a negative one is refused, never passed on.
        Ok(records) => prop_assert!(records.iter().all(|r| r.count >= 0), "{records:?}"),
        Err(e) if n.starts_with('-') => {
            prop_assert!(
                e.to_string().contains("does not decode") || e.to_string().contains("negative"),
                "{e}"
            )
        }
        Err(_) => {}
    }
    if n == "-1" {
        prop_assert!(records.is_err(), "a count of -1 is refused");
    }
    note(records.map(drop));
    note(queries.organization_limits("platform.api").await.map(drop));
    note(queries.change_requests(days).await.map(drop));
    let events: Vec<_> = queries
        .operational_events(interval)
        .unwrap()
        .take(5)
        .collect()
        .await;
    for event in events {
        note(event.map(drop));
    }
    note(queries.operational_event_counts(interval).await.map(drop));
    if std::env::var_os("LIMITS_VALUES_SHOW").is_some() {
        eprintln!("{n} {w}: {errors:#?}");
    }
    for e in errors {
        prop_assert!(!e.is_empty());
        prop_assert!(
            e.contains("does not decode") || e.contains("negative count"),
            "an error says what was wrong: {e}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_number_or_enum_value_in_a_limits_answer_panics(n in number(), w in word()) {
        runtime().block_on(drive(n, w))?;
    }
}
