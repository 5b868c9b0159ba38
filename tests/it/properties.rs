//! Property tests: every response model survives a JSON round trip; no input of any shape
//! makes a decoder panic; truncated bodies are errors; interval and days validation
//! accept what they should, and what they refuse never reaches the wire.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};
use proptest::prelude::*;
use serde_json::Value;
use usage_client::models::{
    ApiUsageOrganizationQuery, ApiUsageQueryResult, ApiUsageRow, Cursors, Detail, ErrorBody,
    Interval, Limit, LimitNamespace, QueryStatus, Timestamp, UsageExecutionResult,
};
use usage_ext::{UsageQueries, validate};
use usage_fake::{FakeConfig, FakeService};
use usage_tests::fake_client;

fn text() -> impl Strategy<Value = String> {
    // Mostly printable, with quotes, escapes and non-ASCII in the mix.
    "[a-zA-Z0-9 ._/{}\"\\\\é漢\u{1F600}-]{0,16}"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
}

fn query_status() -> impl Strategy<Value = QueryStatus> {
    prop_oneof![
        Just(QueryStatus::Complete),
        Just(QueryStatus::Failed),
        Just(QueryStatus::Running),
        text().prop_map(QueryStatus::from),
    ]
}

fn row() -> impl Strategy<Value = ApiUsageRow> {
    let counts = proptest::array::uniform6(proptest::option::of(any::<i64>()));
    (
        proptest::array::uniform6(opt_text()),
        counts,
        proptest::option::of(timestamp()),
    )
        .prop_map(
            |(
                [
                    client_id,
                    client_name,
                    organization_id,
                    user_id,
                    template_uri,
                    http_method,
                ],
                [s200, s300, s400, s500, s429, requests],
                date,
            )| {
                ApiUsageRow {
                    client_id,
                    client_name,
                    organization_id,
                    user_id,
                    template_uri,
                    http_method,
                    status200: s200,
                    status300: s300,
                    status400: s400,
                    status500: s500,
                    status429: s429,
                    requests,
                    date: date.map(Timestamp::from),
                }
            },
        )
}

fn query_result() -> impl Strategy<Value = ApiUsageQueryResult> {
    (
        proptest::option::of(
            (opt_text(), opt_text()).prop_map(|(before, after)| Cursors { before, after }),
        ),
        proptest::option::of(query_status()),
        proptest::collection::vec(row(), 0..6),
    )
        .prop_map(|(cursors, query_status, results)| ApiUsageQueryResult {
            cursors,
            query_status,
            results,
        })
}

fn execution_result() -> impl Strategy<Value = UsageExecutionResult> {
    (opt_text(), opt_text()).prop_map(|(execution_id, results_uri)| UsageExecutionResult {
        execution_id,
        results_uri,
    })
}

fn namespace() -> impl Strategy<Value = LimitNamespace> {
    prop_oneof![
        proptest::sample::select(LimitNamespace::VALUES).prop_map(LimitNamespace::from),
        text().prop_map(LimitNamespace::from),
    ]
}

fn error_body_leaf() -> impl Strategy<Value = ErrorBody> {
    (
        proptest::array::uniform6(opt_text()),
        proptest::option::of(any::<i32>()),
        proptest::collection::btree_map(text(), text(), 0..3),
        proptest::collection::vec(proptest::array::uniform4(opt_text()), 0..3),
        proptest::option::of((
            opt_text(),
            proptest::option::of(namespace()),
            proptest::option::of(any::<i64>()),
        )),
    )
        .prop_map(
            |(
                [
                    message,
                    code,
                    entity_id,
                    entity_name,
                    message_with_params,
                    context_id,
                ],
                status,
                message_params,
                details,
                limit,
            )| {
                ErrorBody {
                    message,
                    code,
                    status,
                    entity_id,
                    entity_name,
                    message_with_params,
                    message_params,
                    context_id,
                    details: details
                        .into_iter()
                        .map(|[error_code, field_name, entity_id, entity_name]| Detail {
                            error_code,
                            field_name,
                            entity_id,
                            entity_name,
                        })
                        .collect(),
                    errors: Vec::new(),
                    limit: limit.map(|(key, namespace, value)| Limit {
                        key,
                        namespace,
                        value,
                    }),
                }
            },
        )
}

fn error_body() -> impl Strategy<Value = ErrorBody> {
    (
        error_body_leaf(),
        proptest::collection::vec(error_body_leaf(), 0..3),
    )
        .prop_map(|(mut body, errors)| {
            body.errors = errors;
            body
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
        proptest::sample::select(vec![
            "Complete",
            "Running",
            "Failed",
            "queryStatus",
            "results"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    text(),
                    proptest::sample::select(vec![
                        "results",
                        "queryStatus",
                        "cursors",
                        "executionId",
                        "status200",
                        "date",
                        "errors",
                        "details",
                        "limit",
                        "namespace",
                        "messageParams",
                        "status",
                    ])
                    .prop_map(String::from),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `value` comes back unchanged from its JSON.
fn round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    prop_assert_eq!(
        &serde_json::from_str::<T>(&json).unwrap(),
        value,
        "{}",
        json
    );
    Ok(())
}

/// Decodes `bytes` as every response model; the results are ignored, panics are not.
fn decode_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<ApiUsageQueryResult>(bytes);
    let _ = serde_json::from_slice::<UsageExecutionResult>(bytes);
    let _ = serde_json::from_slice::<ErrorBody>(bytes);
    let _ = serde_json::from_slice::<ApiUsageRow>(bytes);
    let _ = serde_json::from_slice::<QueryStatus>(bytes);
    let _ = serde_json::from_slice::<LimitNamespace>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn query_results_round_trip(value in query_result()) {
        round_trip(&value)?;
    }

    #[test]
    fn execution_results_round_trip(value in execution_result()) {
        round_trip(&value)?;
    }

    #[test]
    fn error_bodies_round_trip(value in error_body()) {
        round_trip(&value)?;
    }

    #[test]
    fn arbitrary_json_never_panics_a_decoder(value in json_value()) {
        decode_all(value.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn truncated_bodies_are_errors(value in query_result(), cut in any::<prop::sample::Index>()) {
        let json = serde_json::to_vec(&value).unwrap();
        let at = cut.index(json.len());
        prop_assert!(serde_json::from_slice::<ApiUsageQueryResult>(&json[..at]).is_err());
        let body = serde_json::to_vec(&ErrorBody { message: Some("m".into()), ..ErrorBody::default() }).unwrap();
        let at = cut.index(body.len());
        prop_assert!(serde_json::from_slice::<ErrorBody>(&body[..at]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The fast decoder of `Timestamp` agrees with chrono on every form and on garbage.
    #[test]
    fn timestamps_decode_as_chrono_does(
        t in timestamp(),
        digits in 0usize..=10,
        offset_minutes in -720i32..=840,
        noise in "[0-9TZ:.+ -]{0,30}",
    ) {
        let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let mut forms = vec![
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            t.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::AutoSi, false),
            noise,
        ];
        let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let fraction = format!("{:09}", t.timestamp_subsec_nanos());
        forms.push(if digits == 0 { format!("{base}Z") } else { format!("{base}.{}Z", &format!("{fraction}0")[..digits]) });
        for s in forms {
            let ours = Timestamp::parse(&s).ok().map(Timestamp::into_inner);
            let chrono = s.parse::<DateTime<Utc>>().ok();
            prop_assert_eq!(ours, chrono, "{}", s);
        }
    }
}

/// Renders an instant in one of the forms the service accepts, and what that form keeps.
fn render(t: DateTime<Utc>, form: u8) -> (String, DateTime<Utc>) {
    use chrono::{Datelike, TimeZone, Timelike};
    let date = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    match form % 7 {
        0 => (t.to_rfc3339_opts(SecondsFormat::Nanos, true), t),
        1 => {
            let kept = t
                .with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
                .unwrap();
            (t.to_rfc3339_opts(SecondsFormat::Millis, true), kept)
        }
        2 => {
            let zone = chrono::FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap();
            (
                t.with_timezone(&zone)
                    .to_rfc3339_opts(SecondsFormat::Secs, false),
                t.with_nanosecond(0).unwrap(),
            )
        }
        3 => (
            t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            t.with_nanosecond(0).unwrap(),
        ),
        4 => (
            t.format("%Y-%m-%d").to_string(),
            date(t.year(), t.month(), t.day()),
        ),
        5 => (t.format("%Y-%m").to_string(), date(t.year(), t.month(), 1)),
        _ => (t.format("%Y").to_string(), date(t.year(), 1, 1)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_intervals_are_accepted_and_keep_their_instants(
        a in 946_684_800i64..4_102_444_800,
        b in 946_684_800i64..4_102_444_800,
        nanos in 0u32..1_000_000_000,
        form in any::<u8>(),
    ) {
        let a = DateTime::from_timestamp(a, nanos).unwrap();
        let b = DateTime::from_timestamp(b, nanos).unwrap();
        let (start, start_kept) = render(a.min(b), form);
        let (end, end_kept) = render(a.max(b), form);
        let text = format!("{start}/{end}");
        match Interval::parse(&text) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.start, start_kept);
                prop_assert_eq!(parsed.end, end_kept);
            }
            // Refused only when the form loses the difference between the two instants.
            Err(e) => prop_assert!(start_kept >= end_kept, "{} refused: {}", text, e),
        }
    }

    #[test]
    fn days_accept_exactly_the_positive_integers(n in any::<u32>()) {
        prop_assert_eq!(validate::days(n).is_ok(), n >= 1);
    }
}

/// One fake and runtime for the wire property: refused intervals must never reach it.
fn fake() -> &'static (tokio::runtime::Runtime, FakeService, UsageQueries) {
    static FAKE: OnceLock<(tokio::runtime::Runtime, FakeService, UsageQueries)> = OnceLock::new();
    FAKE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = runtime
            .block_on(FakeService::start(FakeConfig::default()))
            .unwrap();
        let client = fake_client(&fake).build().unwrap();
        (runtime, fake, UsageQueries::new(client))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn refused_intervals_never_reach_the_wire(
        interval in prop_oneof![
            "[0-9TZ:/ .+-]{0,30}",
            ".{0,30}",
            (text(), text()).prop_map(|(a, b)| format!("{a}/{b}")),
        ]
    ) {
        prop_assume!(Interval::parse(&interval).is_err());
        let (runtime, fake, queries) = fake();
        let outcome = runtime.block_on(queries.submit_organization(&ApiUsageOrganizationQuery::new(interval.clone())));
        prop_assert!(matches!(outcome, Err(usage_ext::Error::Invalid(_))), "{:?}", outcome);
        prop_assert_eq!(fake.total_requests(), 0);
    }
}
