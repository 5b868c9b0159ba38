//! The limits family against the fake, through the generated client: every operation
//! answers in upstream's shape, and the fake tells one story with its usage rows (a client's
//! days with 429s are its days with near-limit records, in the hours it runs).

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate, Timelike, Utc};
use serde_json::json;
use usage_client::Client;
use usage_client::models::{
    ChangeRequestExpand, ChangeRequestStatus, EventAggregatesQueryRequest, EventQueryRequest,
    OrganizationPublicApiUsageQueryRequest, RateLimitAggregationQuery,
};
use usage_ext::UsageQueries;
use usage_fake::{FakeConfig, FakeService};
use usage_tests::fake_client;

const NIGHTLY_EXPORT: &str = "4c4e8a4a-5b1e-4b8e-9d4b-0f1e2d3c4b5a";

fn days_back(n: u64) -> NaiveDate {
    Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(n))
        .unwrap()
}

async fn client(fake: &FakeService) -> Client {
    fake_client(fake).build().unwrap()
}

fn aggregates_query(
    first: NaiveDate,
    end: NaiveDate,
    granularity: &str,
) -> RateLimitAggregationQuery {
    serde_json::from_value(json!({
        "interval": format!("{first}T00:00:00Z/{end}T00:00:00Z"),
        "granularity": granularity,
        "groupBy": ["entityId", "limitName", "namespace", "max"],
        "metrics": ["oRateLimitRecorded"],
    }))
    .unwrap()
}

#[tokio::test]
async fn a_clients_days_with_429s_are_its_days_with_near_limit_records() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let client = client(&fake).await;
    let (first, last) = (days_back(28), days_back(1));
    let request: OrganizationPublicApiUsageQueryRequest = serde_json::from_value(json!({
        "interval": format!("{first}/{last}"),
        "groupBy": ["OauthClientId"],
        "metrics": ["Status429"],
        "granularity": "Day",
    }))
    .unwrap();
    let rows = UsageQueries::new(client.clone())
        .aggregate_usage(&request)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let limited: BTreeSet<(String, NaiveDate)> = rows
        .iter()
        .filter(|r| r.status429.unwrap_or(0) > 0)
        .map(|r| {
            let id = r.oauth_client.as_ref().and_then(|c| c.id.clone()).unwrap();
            (id, r.date.unwrap())
        })
        .collect();
    assert!(!limited.is_empty(), "the demo org gets 429s");
    let end = last.succ_opt().unwrap();
    let answer = client
        .post_analytics_ratelimits_aggregates_query(&aggregates_query(first, end, "P1D"))
        .await
        .unwrap();
    let mut near: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
    let mut unknown: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut limits: BTreeSet<(String, String)> = BTreeSet::new();
    for result in &answer.results {
        let id = result.group["entityId"].clone();
        let (namespace, key) = (&result.group["namespace"], &result.group["limitName"]);
        // Each limit's value in its own namespace: the raised one is 600.
        let value = match (namespace.as_str(), key.as_str()) {
            ("platform.api", "client.credentials.token.rate.per.minute") => "600",
            ("platform.api", "token.rate.per.minute") => "300",
            ("auth.api", "client.credentials.token.rate.per.minute") => "300",
            other => panic!("a limit the story does not have: {other:?}"),
        };
        assert_eq!(result.group["max"], value, "{namespace} {key}");
        limits.insert((namespace.clone(), key.clone()));
        let known = usage_fake::OAUTH_CLIENTS.iter().any(|c| c.0 == id);
        for bucket in &result.data {
            let interval = bucket.interval.as_deref().unwrap();
            let day: NaiveDate = interval[..10].parse().unwrap();
            let count = bucket.metrics[0].stats.as_ref().unwrap().count.unwrap();
            assert!(count >= 1, "{interval}");
            if known {
                near.insert((id.clone(), day));
            } else {
                unknown.insert(day);
            }
        }
    }
    assert_eq!(
        near, limited,
        "near-limit days are exactly the days with 429s, client by client"
    );
    assert_eq!(
        limits.len(),
        3,
        "three limits, a key in two namespaces: {limits:?}"
    );
    // The entity the org does not know is near on the CRM screen pop's days with 429s.
    let lake: BTreeSet<NaiveDate> = limited
        .iter()
        .filter(|(id, _)| id == "9f0e1d2c-3b4a-4968-8766-554433221100")
        .map(|(_, day)| *day)
        .collect();
    assert!(!unknown.is_empty() && unknown == lake, "{unknown:?}");

    // In the hours it runs: the nightly export at night.
    let hourly = client
        .post_analytics_ratelimits_aggregates_query(&aggregates_query(first, end, "PT1H"))
        .await
        .unwrap();
    let nightly = hourly
        .results
        .iter()
        .find(|r| r.group["entityId"] == NIGHTLY_EXPORT);
    if let Some(nightly) = nightly {
        for bucket in &nightly.data {
            let start: chrono::DateTime<Utc> =
                bucket.interval.as_deref().unwrap()[..24].parse().unwrap();
            assert!(start.hour() < 6, "{:?}", bucket.interval);
        }
    }
}

/// The client the fake's credentials log in as is one of the org's, as in a real org: a
/// program asking for its own client's usage gets its reporting traffic, the usage
/// queries, modest and never near a limit.
#[tokio::test]
async fn the_fakes_own_client_is_one_of_the_orgs_with_modest_usage_traffic() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    assert_eq!(fake.client_id(), usage_fake::OWN_CLIENT.0);
    let client = client(&fake).await;
    let (first, last) = (days_back(28), days_back(1));
    let query = usage_client::models::ApiUsageClientQuery::new(format!(
        "{first}T00:00:00Z/{}T00:00:00Z",
        last.succ_opt().unwrap()
    ))
    .with_group_by([usage_client::models::ClientGroupBy::TemplateUri]);
    let rows = UsageQueries::new(client.clone())
        .with_policy(usage_tests::steady_polls(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_secs(30),
        ))
        .unwrap()
        .client_usage(fake.client_id(), &query)
        .await
        .unwrap()
        .results;
    assert!(!rows.is_empty(), "the own client has traffic");
    let requests: i64 = rows.iter().map(|r| r.requests.unwrap()).sum();
    assert!(
        (28 * 20..28 * 400).contains(&requests),
        "modest: {requests} in 28 days"
    );
    assert!(rows.iter().all(|r| r.status429 == Some(0)), "{rows:?}");
    assert!(
        rows.iter().all(|r| r
            .template_uri
            .as_deref()
            .is_some_and(|t| t.starts_with("api/v2/usage/"))),
        "its traffic is the usage queries: {rows:?}"
    );
    let answer = client
        .post_analytics_ratelimits_aggregates_query(&aggregates_query(
            first,
            last.succ_opt().unwrap(),
            "P1D",
        ))
        .await
        .unwrap();
    assert!(!answer.results.is_empty(), "the integrations come near");
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.group["entityId"] != fake.client_id()),
        "a client with no 429s has no near-limit records"
    );
}

#[tokio::test]
async fn limits_change_requests_and_events_answer_in_upstreams_shapes() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let client = client(&fake).await;
    let docs = client.get_organizations_limits_docs().await.unwrap();
    let platform = &docs.namespaces[0];
    assert_eq!(platform.name.as_deref(), Some("platform.api"));
    let documented = platform
        .limits
        .iter()
        .find(|l| l.key.as_deref() == Some("client.credentials.token.rate.per.minute"))
        .unwrap();
    assert_eq!(documented.default_value, Some(300));
    assert_eq!(documented.trackable, Some(true));
    let effective = client
        .get_organizations_limits_namespace("platform.api")
        .await
        .unwrap();
    let defaults = client
        .get_organizations_limits_namespace_defaults("platform.api")
        .await
        .unwrap();
    let value = |listing: &usage_client::models::LimitsEntityListing| {
        listing
            .entities
            .iter()
            .find(|l| l.key.as_deref() == Some("client.credentials.token.rate.per.minute"))
            .and_then(|l| l.value)
    };
    assert_eq!(
        (value(&effective), value(&defaults)),
        (Some(600), Some(300))
    );
    let unknown = client
        .get_organizations_limits_namespace("no.such.namespace")
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404));
    client
        .get_organizations_limits_namespaces(None, None)
        .await
        .unwrap();

    let expand = vec![ChangeRequestExpand::StatusHistory];
    let requests = client
        .get_organizations_limits_changerequests(None, None, Some(&expand), None, None)
        .await
        .unwrap();
    let statuses: BTreeSet<&str> = requests
        .entities
        .iter()
        .map(|r| r.status.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["ChangeImplemented", "Open", "Pending", "Rejected"])
    );
    assert!(
        requests
            .entities
            .iter()
            .all(|r| !r.status_history.is_empty())
    );
    let plain = client
        .get_organizations_limits_changerequests(
            None,
            None,
            None,
            None,
            Some(&ChangeRequestStatus::Rejected),
        )
        .await
        .unwrap();
    assert_eq!(plain.entities.len(), 1);
    assert!(plain.entities[0].status_history.is_empty(), "not expanded");
    assert!(
        requests.next_uri.is_none(),
        "3 fit in the default page of 25"
    );
    let paged = client
        .get_organizations_limits_changerequests(None, None, None, Some(2), None)
        .await
        .unwrap();
    assert_eq!(paged.entities.len(), 2, "pageSize is honoured");
    assert!(paged.next_uri.is_some(), "and says there is more");
    let id = plain.entities[0].id.clone().unwrap();
    let one = client
        .get_organizations_limits_changerequest(&id)
        .await
        .unwrap();
    assert_eq!(
        one.reject_reason.as_ref().map(|r| r.as_str()),
        Some("IncreaseNotRequired")
    );

    let definitions = client.get_usage_events_definitions().await.unwrap();
    let near = definitions.entities[0].id.clone().unwrap();
    client.get_usage_events_definition(&near).await.unwrap();
    let interval = format!("{}T00:00:00Z/{}T00:00:00Z", days_back(7), days_back(0));
    let body: EventQueryRequest =
        serde_json::from_value(json!({"interval": interval, "sortOrder": "ASC"})).unwrap();
    let mut events = 0;
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let page = client
            .post_usage_events_query(after.as_deref(), None, Some("50"), &body)
            .await
            .unwrap();
        events += page.entities.len();
        // The cursor as the nextUri carries it is percent-encoded (the fake's, as upstream's,
        // hold `+`, `/` and `=`): decoded here, the client encodes it again.
        after = page
            .next_uri
            .as_deref()
            .and_then(|uri| uri.split("after=").nth(1))
            .map(|rest| percent_decoded(rest.split('&').next().unwrap_or(rest)));
        if after.is_none() {
            break;
        }
    }
    let counts: EventAggregatesQueryRequest =
        serde_json::from_value(json!({"interval": interval})).unwrap();
    let aggregates = client
        .post_usage_events_aggregates_query(&counts)
        .await
        .unwrap();
    let counted: i64 = aggregates
        .event_definition_aggregates
        .iter()
        .map(|a| i64::from(a.event_count.unwrap_or(0)))
        .sum();
    assert!(events > 0, "the demo org's week has near-limit events");
    assert_eq!(
        counted, events as i64,
        "the pages hold every event the counts count"
    );
}

/// usage-ext's helpers over the family: typed rows, one call each, bad input refused before
/// any request.
#[tokio::test]
async fn the_helpers_answer_typed_and_refuse_bad_input_before_sending() {
    use futures_util::StreamExt as _;
    use usage_ext::{Bucket, DayWindow, Error};

    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let queries = UsageQueries::new(client(&fake).await);
    let interval = format!("{}T00:00:00Z/{}T00:00:00Z", days_back(7), days_back(0));

    let hourly = queries
        .rate_limit_records(&interval, Bucket::Hour)
        .await
        .unwrap();
    assert!(!hourly.is_empty());
    assert!(hourly.iter().all(|r| r.count >= 1 && r.max.is_some()));
    assert!(
        hourly.iter().any(|r| r.max == Some(600)),
        "the raised limit"
    );
    assert!(
        hourly
            .windows(2)
            .all(|w| w[0].bucket_start <= w[1].bucket_start)
    );
    let daily = queries
        .rate_limit_records(&interval, Bucket::Day)
        .await
        .unwrap();
    let sum = |rows: &[usage_ext::RateLimitRecord]| rows.iter().map(|r| r.count).sum::<i64>();
    assert_eq!(
        sum(&hourly),
        sum(&daily),
        "the same records by hour and by day"
    );

    let limits = queries.organization_limits("platform.api").await.unwrap();
    let client_limit = limits
        .iter()
        .find(|l| l.key == "client.credentials.token.rate.per.minute")
        .unwrap();
    assert!(client_limit.raised());
    assert_eq!(
        (client_limit.value, client_limit.default),
        (Some(600), Some(300))
    );
    assert_eq!(client_limit.trackable, Some(true));
    assert!(limits.iter().filter(|l| l.raised()).count() == 1);

    let year = DayWindow::new(days_back(365), days_back(1)).unwrap();
    let requests = queries.change_requests(year).await.unwrap();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| !r.status_history.is_empty()));
    // The same key in two namespaces: a key alone names no limit.
    let namespaces: BTreeSet<(&str, &str)> = requests
        .iter()
        .filter(|r| r.key == "client.credentials.token.rate.per.minute")
        .map(|r| (r.namespace.as_str(), r.key.as_str()))
        .collect();
    assert_eq!(namespaces.len(), 2, "{namespaces:?}");

    let events: Vec<_> = queries
        .operational_events(&interval)
        .unwrap()
        .take(10_000)
        .collect()
        .await;
    assert!(events.iter().all(Result::is_ok));
    let counts = queries.operational_event_counts(&interval).await.unwrap();
    let counted: i64 = counts
        .event_definition_aggregates
        .iter()
        .map(|a| i64::from(a.event_count.unwrap_or(0)))
        .sum();
    assert_eq!(counted, events.len() as i64);
    assert_eq!(counted, sum(&hourly), "one event per near-limit hour");

    // More than a page of 200: every event once, in order, as the near-limit records count
    // them (the cursor goes in `after`; sent as `before`, page one came back forever).
    // The window grows until the fake's story holds more than a page, whatever the date
    // (its near-limit hours vary from month to month).
    let mut long = String::new();
    for days in [60, 120, 240, 360] {
        long = format!("{}T00:00:00Z/{}T00:00:00Z", days_back(days), days_back(0));
        let counted = queries.operational_event_counts(&long).await.unwrap();
        let events: i64 = counted
            .event_definition_aggregates
            .iter()
            .map(|a| i64::from(a.event_count.unwrap_or(0)))
            .sum();
        if events > 200 {
            break;
        }
    }
    let all: Vec<_> = queries
        .operational_events(&long)
        .unwrap()
        .take(100_000)
        .collect()
        .await;
    let all: Vec<_> = all.into_iter().collect::<Result<_, _>>().unwrap();
    let long_hourly = queries
        .rate_limit_records(&long, Bucket::Hour)
        .await
        .unwrap();
    assert!(all.len() > 200, "{} events: more than one page", all.len());
    assert_eq!(all.len() as i64, sum(&long_hourly));
    // An hour near two limits is two events (each with its limit's value).
    let distinct: BTreeSet<(String, String, String)> = all
        .iter()
        .map(|e| {
            (
                e.date_created.unwrap().to_rfc3339(),
                e.entity_id.clone().unwrap(),
                e.current_value.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(distinct.len(), all.len(), "none twice");
    assert!(
        all.windows(2)
            .all(|w| w[0].date_created <= w[1].date_created),
        "oldest first"
    );

    // Refused before anything is sent.
    let before = fake.total_requests();
    for bad in ["", "2026-10-08/2026-10-01", "yesterday"] {
        let err = queries
            .rate_limit_records(bad, Bucket::Day)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{bad:?}: {err:?}");
        assert!(matches!(
            queries.operational_events(bad).map(drop),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            queries.operational_event_counts(bad).await,
            Err(Error::Invalid(_))
        ));
    }
    for bad in ["", "..", " "] {
        let err = queries.organization_limits(bad).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(fake.total_requests(), before, "nothing sent for bad input");

    // A failed request names its operation.
    let err = queries
        .organization_limits("no.such.namespace")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("getOrganizationsLimitsNamespace"),
        "{err}"
    );
}

/// `%XX` sequences decoded (a query value's), the rest kept.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
