//! `limits` and `events` against usage-fake: the org's limits beside their defaults and its
//! change requests in every format, the exact requests they cost, a login without the
//! change requests' permission still answered, bad input refused before any request, and
//! the operational events streamed with their definitions' names.

mod common;

use common::{against, text};
use serde_json::Value;
use usage_fake::{FakeConfig, FakeService, Fault, Operation};

/// The answer to a login that lacks the operation's permission.
fn forbidden() -> Fault {
    Fault::Status {
        status: 403,
        retry_after: None,
    }
}

async fn start() -> FakeService {
    FakeService::start(FakeConfig::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_shows_the_raised_limit_and_the_change_requests_in_every_format() {
    let fake = start().await;
    let table = against(&fake).args(["limits"]).output().unwrap();
    assert_eq!(table.status.code(), Some(0), "{}", text(&table.stderr));
    let shown = text(&table.stdout);
    assert!(
        shown.starts_with("Limits of platform.api (4 limits, 1 raised above the default)"),
        "{shown}"
    );
    let raised = shown
        .lines()
        .find(|l| l.starts_with("client.credentials.token.rate.per.minute"))
        .unwrap();
    assert!(
        raised.contains(" 600 ") && raised.contains(" 300 ") && raised.contains("raised"),
        "{raised}"
    );
    assert!(
        shown.contains("Change requests of the last year (3)"),
        "{shown}"
    );
    for status in ["ChangeImplemented", "Rejected", "Open"] {
        assert!(shown.contains(status), "{status} in {shown}");
    }
    // Three lookups for the limits (effective, defaults, docs) and one listing.
    for operation in [
        Operation::GetOrganizationsLimitsNamespace,
        Operation::GetOrganizationsLimitsNamespaceDefaults,
        Operation::GetOrganizationsLimitsDocs,
        Operation::GetOrganizationsLimitsChangerequests,
    ] {
        assert_eq!(fake.requests(operation), 1, "{operation:?}");
    }

    let json = against(&fake)
        .args(["limits", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["namespace"], "platform.api");
    let limits = json["limits"].as_array().unwrap();
    assert_eq!(limits.len(), 4);
    let raised: Vec<&Value> = limits.iter().filter(|l| l["raised"] == true).collect();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0]["value"], 600);
    assert_eq!(raised[0]["defaultValue"], 300);
    // The listing holds four, one of the same key in auth.api: platform.api's only.
    let requests = json["changeRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests.iter().all(|r| r["namespace"] == "platform.api"));
    let auth = against(&fake)
        .args(["limits", "--namespace", "auth.api", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(auth.status.code(), Some(0), "{}", text(&auth.stderr));
    let auth: Value = serde_json::from_slice(&auth.stdout).unwrap();
    let requests = auth["changeRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "auth.api's own: {requests:?}");
    assert_eq!(
        requests[0]["currentValue"], 300.0,
        "its value now, in auth.api"
    );
    // A namespace the org does not have: not found (exit 7), said so.
    let missing = against(&fake)
        .args(["limits", "--namespace", "no.such.namespace"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(7), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("no such namespace"),
        "{}",
        text(&missing.stderr)
    );

    let csv = against(&fake)
        .args(["limits", "--format", "csv"])
        .output()
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let kinds: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "limit",
            "limit",
            "limit",
            "limit",
            "changeRequest",
            "changeRequest",
            "changeRequest"
        ]
    );
    let ndjson = against(&fake)
        .args(["limits", "--format", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(text(&ndjson.stdout).lines().count(), 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_change_requests_permission_the_limits_still_answer() {
    let fake = start().await;
    fake.fault_every(Operation::GetOrganizationsLimitsChangerequests, forbidden());
    let out = against(&fake)
        .args(["limits", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("limits:organization:view"),
        "{}",
        text(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["limits"].as_array().unwrap().len(), 4);
    assert!(json["changeRequests"].is_null(), "{json}");

    // Any other failure of the listing is the command's.
    let broken = start().await;
    broken.fault_every(
        Operation::GetOrganizationsLimitsChangerequests,
        Fault::Status {
            status: 400,
            retry_after: None,
        },
    );
    let out = against(&broken).args(["limits"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("getOrganizationsLimitsChangerequests"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_request() {
    let fake = start().await;
    for args in [
        &["limits", "--namespace", "../platform.api"][..],
        &["limits", "--namespace", ""],
        &["limits", "--format", "html"],
        &["events", "--interval", "2026-11-01/9999-01-01"],
        &["events", "--interval", "yesterday"],
    ] {
        let out = against(&fake).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(fake.total_requests(), 0, "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_streams_every_event_of_the_window_with_its_definitions_name() {
    let fake = start().await;
    let interval = {
        let today = chrono::Utc::now().date_naive();
        let first = today - chrono::Days::new(7);
        format!("{first}T00:00:00Z/{today}T00:00:00Z")
    };
    let out = against(&fake)
        .args(["events", "--interval", &interval, "--format", "ndjson"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The same events through the SDK: the CLI lost or doubled none across the pages.
    let client = usage_tests_client(&fake);
    let expected = {
        use futures_util::StreamExt as _;
        usage_ext::UsageQueries::new(client)
            .operational_events(&interval)
            .unwrap()
            .collect::<Vec<_>>()
            .await
    };
    assert!(!expected.is_empty(), "the demo org has near-limit events");
    assert_eq!(events.len(), expected.len());
    assert!(
        events
            .iter()
            .all(|e| e["eventDefinitionName"] == "Rate limit near"),
        "{events:?}"
    );
    assert_eq!(fake.requests(Operation::GetUsageEventsDefinitions), 1);
}

fn usage_tests_client(fake: &FakeService) -> usage_ext::client::Client {
    usage_ext::client::Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
        .no_proxy()
        .build()
        .unwrap()
}

/// `report` names the limits a client came near at one request more; a login without the
/// rate-limit aggregates' permission gets the same report without them, and is told.
#[tokio::test(flavor = "multi_thread")]
async fn the_report_names_the_limits_and_goes_on_without_the_permission() {
    let fake = start().await;
    let out = against(&fake)
        .args(["report", "--since", "7d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    // The org's limits, whichever leads this week; the raised one among them.
    let org_line = table
        .lines()
        .find(|l| l.starts_with("Near a limit: "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        org_line.contains("client.credentials.token.rate.per.minute (600) "),
        "{table}"
    );
    assert!(
        table.contains("  near client.credentials.token.rate.per.minute (600): "),
        "{table}"
    );
    assert_eq!(
        fake.requests(Operation::PostAnalyticsRatelimitsAggregatesQuery),
        1
    );
    // The page draws, per client and limit, when in the day it came near: a strip each.
    let json = against(&fake)
        .args(["report", "--since", "7d", "--format", "json"])
        .output()
        .unwrap();
    let clients: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    let near: usize = clients
        .iter()
        .map(|c| {
            c.get("limits")
                .and_then(|l| l.as_array())
                .map_or(0, Vec::len)
        })
        .sum();
    assert!(near > 0);
    let page = against(&fake)
        .args(["report", "--since", "7d", "--format", "html"])
        .output()
        .unwrap();
    let page = text(&page.stdout);
    assert!(page.contains("<h2>When clients came near a limit (UTC)</h2>"));
    assert_eq!(
        page.matches("aria-label=\"hours ").count(),
        near.min(7),
        "a strip per client and limit (at most the palette's seven clients)"
    );

    let denied = start().await;
    denied.fault_every(
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        forbidden(),
    );
    let out = against(&denied)
        .args(["report", "--since", "7d", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("analytics:rateLimitAggregate:view"),
        "{}",
        text(&out.stderr)
    );
    let clients: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!clients.is_empty());
    assert!(clients.iter().all(|c| c.get("limits").is_none()));
}

/// `check --max-limit-hours N` (and the rules file's `[limits]`): exit 5 for each client
/// that spent more than N hours near a limit, naming the limit and its value; the same
/// clients the report shows over N.
#[tokio::test(flavor = "multi_thread")]
async fn check_breaches_name_the_limit_a_client_spent_too_many_hours_near() {
    let fake = start().await;
    let report = against(&fake)
        .args(["report", "--since", "7d", "--format", "json"])
        .output()
        .unwrap();
    let clients: Vec<Value> = serde_json::from_slice(&report.stdout).unwrap();
    // A client's hours are the distinct hours near any of its limits.
    let hours = |c: &Value| c["nearLimitHours"].as_u64().unwrap_or(0);
    let most = clients.iter().map(hours).max().unwrap();
    assert!(most >= 2, "the demo org comes near its limit: {most}");
    let max = most / 2;
    let mut over: Vec<&str> = clients
        .iter()
        .filter(|c| hours(c) > max)
        .map(|c| c["oauthClientId"].as_str().unwrap())
        .collect();
    over.sort();

    let out = against(&fake)
        .args([
            "check",
            "--since",
            "7d",
            "--max-limit-hours",
            &max.to_string(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let breaches: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut named: Vec<&str> = breaches
        .iter()
        .map(|b| b["oauthClientId"].as_str().unwrap())
        .collect();
    named.sort();
    assert_eq!(named, over);
    for b in &breaches {
        // Named by the limit it spent the most hours near, with that limit's value.
        let client = clients
            .iter()
            .find(|c| c["oauthClientId"] == b["oauthClientId"])
            .unwrap();
        assert_eq!(b["rateLimitKey"], client["limits"][0]["limitKey"]);
        assert_eq!(b["rateLimitValue"], client["limits"][0]["limitValue"]);
        assert_eq!(
            b["value"].as_f64(),
            client["nearLimitHours"].as_u64().map(|h| h as f64)
        );
        assert!(b["value"].as_f64().unwrap() > max as f64);
    }
    let lines = against(&fake)
        .args([
            "check",
            "--since",
            "7d",
            "--max-limit-hours",
            &max.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(lines.status.code(), Some(5));
    let first = text(&lines.stdout).lines().next().unwrap().to_string();
    let worst = &breaches[0];
    assert!(
        first.starts_with(&format!(
            "hours near {} ({}) of ",
            worst["rateLimitKey"].as_str().unwrap(),
            worst["rateLimitValue"]
        )) && first.ends_with(&format!(", limit {max}")),
        "{first}"
    );

    // The rules file's [limits] table: nobody over a year of hours.
    let dir = common::scratch("limits-rules");
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "[limits]\nmax_hours = 8760\n").unwrap();
    let ok = against(&fake)
        .args(["check", "--since", "7d", "--rules", rules.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    std::fs::write(&rules, "[limits]\nmax_hours = 0\nexclude = [\"x\"]\n").unwrap();
    let all = against(&fake)
        .args(["check", "--since", "7d", "--rules", rules.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(all.status.code(), Some(5), "{}", text(&all.stderr));

    // Refused before anything is sent.
    let fresh = start().await;
    for args in [
        &["check", "--max-limit-hours", "-1"][..],
        &["check", "--max-limit-hours", "3", "--per", "endpoint"],
    ] {
        let out = against(&fresh).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    std::fs::write(&rules, "[limits]\nmax_hours = -4\n").unwrap();
    let out = against(&fresh)
        .args(["check", "--rules", rules.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(fresh.total_requests(), 0);
}

/// The org line counts distinct hours (never more than the window has, though five clients
/// are near the limit in many of the same hours) and each client once.
#[tokio::test(flavor = "multi_thread")]
async fn the_org_line_counts_each_hour_and_each_client_once() {
    let fake = start().await;
    let out = against(&fake)
        .args(["report", "--since", "30d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with("Near a limit: "))
        .expect("the org line");
    let json = against(&fake)
        .args(["report", "--since", "30d", "--format", "json"])
        .output()
        .unwrap();
    let report: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    // Each limit of the line: `KEY (VALUE)[ in NAMESPACE] N hours by M client(s)[ and ...]`.
    let limits = line.trim_start_matches("Near a limit: ").split("; ");
    let mut seen = 0;
    for limit in limits {
        let words: Vec<&str> = limit.split_whitespace().collect();
        let key = words[0];
        let namespace = match words[2] {
            "in" => Some(words[3]),
            _ => None,
        };
        let at = words.iter().position(|w| w.starts_with("hour")).unwrap();
        let hours: u64 = words[at - 1].replace(',', "").parse().unwrap();
        let clients: usize = words[at + 2].parse().unwrap();
        assert!(hours <= 30 * 24, "{line}");
        // The report's clients near that limit, and their hours near it.
        let theirs: Vec<u64> = report
            .iter()
            .flat_map(|c| c["limits"].as_array().cloned().unwrap_or_default())
            .filter(|l| l["limitKey"] == key && namespace.is_none_or(|n| l["namespace"] == n))
            .map(|l| l["nearLimitHours"].as_u64().unwrap())
            .collect();
        assert_eq!(clients, theirs.len(), "{limit}: each client once");
        let most = theirs.iter().copied().max().unwrap_or(0);
        let sum: u64 = theirs.iter().sum();
        if !limit.contains("other entit") {
            assert!(
                hours >= most && hours <= sum,
                "{limit}: a union of the clients' hours: {most} <= {hours} <= {sum}"
            );
        }
        seen += 1;
    }
    assert!(seen >= 2, "the story has several limits: {line}");
}

/// One reading of `--interval` in every command: dates are whole days, both ends included.
/// The jobs' rows, evidence's days, the events, report's and check's windows, and a
/// dataset sync kept, read back, all cover the same seven days for `FIRST/LAST`.
#[tokio::test(flavor = "multi_thread")]
async fn every_command_reads_an_interval_of_dates_as_the_same_days() {
    let fake = start().await;
    let today = chrono::Utc::now().date_naive();
    let (first, last) = (today - chrono::Days::new(8), today - chrono::Days::new(2));
    let interval = format!("{first}/{last}");
    let run = |args: &[&str]| {
        let out = against(&fake).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        out
    };
    let jobs = run(&[
        "jobs",
        "--interval",
        &interval,
        "--granularity",
        "Day",
        "--group-by",
        "OauthClientId",
        "--format",
        "ndjson",
    ]);
    let days: std::collections::BTreeSet<String> = text(&jobs.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["date"]
                .as_str()
                .unwrap()[..10]
                .to_string()
        })
        .collect();
    let expected: std::collections::BTreeSet<String> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| d.to_string())
        .collect();
    assert_eq!(days, expected, "jobs: both end days");

    let report = run(&["report", "--interval", &interval]);
    assert!(
        text(&report.stdout).starts_with(&format!("Usage by OAuth client, {first}/{last} ")),
        "{}",
        text(&report.stdout)
    );
    let query = run(&["report", "--api", "query", "--interval", &interval]);
    assert!(
        text(&query.stdout).starts_with(&format!("Usage by OAuth client, {first}/{last} ")),
        "{}",
        text(&query.stdout)
    );
    let check = run(&["check", "--interval", &interval, "--max-429-share", "100%"]);
    assert!(
        text(&check.stderr).contains(&format!(", {first}/{last}: nothing breached")),
        "{}",
        text(&check.stderr)
    );

    let events = run(&["events", "--interval", &interval, "--format", "ndjson"]);
    let events: Vec<Value> = text(&events.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty());
    let sdk = {
        use futures_util::StreamExt as _;
        let instants = format!(
            "{first}T00:00:00Z/{today}T00:00:00Z",
            today = last + chrono::Days::new(1)
        );
        usage_ext::UsageQueries::new(usage_tests_client(&fake))
            .operational_events(&instants)
            .unwrap()
            .collect::<Vec<_>>()
            .await
    };
    assert_eq!(
        events.len(),
        sdk.len(),
        "the events of every day, the last included"
    );
    assert!(events.iter().all(|e| {
        let day = &e["dateCreated"].as_str().unwrap()[..10];
        expected.contains(day)
    }));

    let client = usage_fake::OAUTH_CLIENTS[0].0;
    let evidence = run(&[
        "evidence",
        "--client",
        client,
        "--interval",
        &interval,
        "--format",
        "json",
    ]);
    let evidence: Value = serde_json::from_slice(&evidence.stdout).unwrap();
    assert_eq!(evidence["firstDay"], first.to_string());
    assert_eq!(evidence["lastDay"], last.to_string());
    let cased: usize = evidence["events"].as_array().map_or(0, Vec::len);
    let mine = events.iter().filter(|e| e["entityId"] == client).count();
    assert_eq!(
        cased, mine,
        "evidence's events are the events command's, for the client"
    );

    // sync takes whole days up to the last complete one (`--since`, no interval); what it
    // keeps reads back with the same interval as the same days, both ends included.
    let dir = common::fresh("interval-sync");
    let dir = dir.to_str().unwrap();
    run(&["sync", "--to", dir, "--since", "10d"]);
    let kept = common::tool()
        .args([
            "jobs",
            "--from",
            dir,
            "--interval",
            &interval,
            "--format",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert_eq!(kept.status.code(), Some(0), "{}", text(&kept.stderr));
    let kept: std::collections::BTreeSet<String> = text(&kept.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["date"]
                .as_str()
                .unwrap()[..10]
                .to_string()
        })
        .collect();
    assert_eq!(kept, expected, "jobs --from the synced days: both end days");
    let from = common::tool()
        .args(["report", "--from", dir, "--interval", &interval])
        .output()
        .unwrap();
    // The window, not the change against the week before, which the ten days do not hold.
    let window = |out: &std::process::Output| {
        text(&out.stdout)
            .lines()
            .next()
            .and_then(|l| l.split(" (").next())
            .map(str::to_string)
    };
    assert_eq!(
        window(&from),
        window(&report),
        "report --from: the same window"
    );
}

/// A rule that cannot be judged never passes: `--max-limit-hours` with the aggregates
/// refused (403), or `--from` a dataset that holds no rate-limit days, and `--max-growth`
/// `--from` a dataset without the window before, exit 6 with the rule and why on stdout; a
/// breach of another rule still exits 5.
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_cannot_be_judged_never_passes() {
    let denied = start().await;
    denied.fault_every(
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        forbidden(),
    );
    let out = against(&denied)
        .args([
            "check",
            "--since",
            "7d",
            "--max-limit-hours",
            "0",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let judged: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(judged.len(), 1, "{judged:?}");
    assert_eq!(judged[0]["rule"]["limit"], "maxLimitHours");
    let why = judged[0]["notJudged"].as_str().unwrap();
    assert!(why.contains("analytics:rateLimitAggregate:view"), "{why}");
    let line = against(&denied)
        .args(["check", "--since", "7d", "--max-limit-hours", "0"])
        .output()
        .unwrap();
    assert_eq!(line.status.code(), Some(6));
    assert!(
        text(&line.stdout).starts_with("not judged: maxLimitHours 0 per client: "),
        "{}",
        text(&line.stdout)
    );
    assert!(text(&line.stderr).contains("could not be judged"));
    // A breach elsewhere is still a breach.
    let both = against(&denied)
        .args([
            "check",
            "--since",
            "7d",
            "--max-limit-hours",
            "0",
            "--max-429",
            "0",
            "--format",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(5), "{}", text(&both.stderr));
    assert!(
        text(&both.stdout)
            .lines()
            .last()
            .unwrap()
            .contains("\"notJudged\"")
    );

    // A dataset synced without the aggregates' permission holds no rate-limit days, and a
    // 3-day dataset has no window before a 3-day check.
    let dir = common::fresh("not-judged");
    let sync = against(&denied)
        .args(["sync", "--since", "3d", "--to", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync.stderr));
    for (rule, value) in [("--max-limit-hours", "0"), ("--max-growth", "0%")] {
        let out = common::tool()
            .args(["check", "--since", "3d", rule, value, "--format", "csv"])
            .args(["--from", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(6), "{rule}: {}", text(&out.stderr));
        let csv = text(&out.stdout);
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().ends_with(",notJudged"), "{csv}");
        let row = lines.next().unwrap();
        assert!(row.starts_with(",,,,max"), "{csv}");
        assert!(lines.next().is_none(), "{csv}");
    }
}

/// `evidence --client ID`: the client's numbers are the report's, its near-limit hours are
/// the report's, one operational event per near-limit hour, the org's value beside the
/// default, the change requests of that limit only; an unknown client is refused after the
/// usage lookup alone; a login without the permissions gets the usage and is told.
#[tokio::test(flavor = "multi_thread")]
async fn evidence_puts_one_clients_case_together_from_the_usage_and_the_limits() {
    let fake = start().await;
    let client = usage_fake::OAUTH_CLIENTS[0].0;
    let report = against(&fake)
        .args([
            "report", "--since", "14d", "--format", "json", "--top", "100",
        ])
        .output()
        .unwrap();
    let clients: Vec<Value> = serde_json::from_slice(&report.stdout).unwrap();
    let reported = clients
        .iter()
        .find(|c| c["oauthClientId"] == client)
        .unwrap();

    let out = against(&fake)
        .args([
            "evidence", "--client", client, "--since", "14d", "--format", "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let case: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(case["oauthClientName"], reported["oauthClientName"]);
    assert_eq!(case["requestCount"], reported["requestCount"]);
    assert_eq!(case["status429"], reported["status429"]);
    let days = case["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    let daily429: Vec<i64> = days
        .iter()
        .map(|d| d["status429"].as_i64().unwrap())
        .collect();
    let reported429: Vec<i64> = reported["daily429"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap())
        .collect();
    assert_eq!(daily429, reported429);
    assert_eq!(case["limits"], reported["limits"]);
    // An hour near two limits is a record of each, and an event of each.
    let hours: u64 = case["limits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["nearLimitHours"].as_u64().unwrap())
        .sum();
    assert_eq!(
        case["nearLimitHours"].as_array().unwrap().len() as u64,
        hours
    );
    assert_eq!(
        case["events"].as_array().unwrap().len() as u64,
        hours,
        "one operational event per near-limit hour and limit"
    );
    // The limit it came near the most (whichever it is this fortnight), its value in its
    // own namespace, and that limit's change requests only: the fake has one for each.
    let top = &case["limits"][0];
    let (namespace, key) = (
        top["namespace"].as_str().unwrap(),
        top["limitKey"].as_str().unwrap(),
    );
    let (value, default, raised) = match (namespace, key) {
        ("platform.api", "client.credentials.token.rate.per.minute") => (600, 300, true),
        ("platform.api", "token.rate.per.minute") => (300, 300, false),
        ("auth.api", "client.credentials.token.rate.per.minute") => (300, 300, false),
        other => panic!("{other:?}"),
    };
    assert_eq!(case["orgValue"]["namespace"], namespace);
    assert_eq!(case["orgValue"]["value"], value);
    assert_eq!(case["orgValue"]["defaultValue"], default);
    assert_eq!(case["orgValue"]["raised"], raised);
    let requests = case["changeRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "only the client's limit's: {requests:?}");
    assert_eq!(requests[0]["key"], key);
    let facts = case["facts"].as_str().unwrap();
    for part in [
        key,
        &format!("{value} (default {default}"),
        &format!(
            "in {} hours",
            case["limits"][0]["nearLimitHours"].as_u64().unwrap()
        ),
    ] {
        assert!(facts.contains(part), "{part:?} in {facts}");
    }
    assert!(case["missing"].as_array().unwrap().is_empty());

    // The text summary leads with the facts.
    let summary = against(&fake)
        .args(["evidence", "--client", client, "--since", "14d"])
        .output()
        .unwrap();
    let summary = text(&summary.stdout);
    assert!(summary.starts_with("From "), "{summary}");
    // Pasteable into a case: the limit's row, the limits it came near, the endpoints, the
    // requests with their case URLs, and the events per day and definition.
    for part in [
        &format!(
            "\nThe limit: {key} ({namespace}): the org's value {value}, default {default}, {}",
            if raised { "raised" } else { "not raised" }
        )[..],
        "\nLimits it came near:\n  near ",
        "\nendpoint ",
        "\nRequests to raise it (last year):\n",
        "https://support.genesys.com/cases/",
        "\nday         operational events",
        "Rate limit near",
    ] {
        assert!(summary.contains(part), "{part:?} in {summary}");
    }
    // A key in another namespace is named with it.
    if case["limits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["namespace"] == "auth.api")
    {
        assert!(summary.contains(" in auth.api: "), "{summary}");
    }
    // The events per day add up to the events, in the JSON too.
    let per_day: u64 = case["eventDays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["events"].as_u64().unwrap())
        .sum();
    assert_eq!(per_day, case["events"].as_array().unwrap().len() as u64);
    assert!(case["eventDays"][0]["eventDefinition"] == "Rate limit near");

    // A known id in upper case is the same client, named as the org spells it.
    let upper = against(&fake)
        .args([
            "evidence",
            "--client",
            &client.to_ascii_uppercase(),
            "--since",
            "14d",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(upper.status.code(), Some(0), "{}", text(&upper.stderr));
    let upper: Value = serde_json::from_slice(&upper.stdout).unwrap();
    assert_eq!(upper["oauthClientId"], client);
    assert_eq!(upper["limits"], case["limits"]);

    // An unknown client: not found (exit 7) after the usage lookup, nothing of the limits
    // asked.
    let lookup = start().await;
    let out = against(&lookup)
        .args([
            "evidence",
            "--client",
            "00000000-0000-4000-8000-000000000000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no usage of that OAuth client"));
    assert!(lookup.requests(Operation::PostUsageAggregatesQueryJobs) > 0);
    for operation in [
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        Operation::GetOrganizationsLimitsNamespace,
        Operation::GetOrganizationsLimitsChangerequests,
        Operation::PostUsageEventsQuery,
    ] {
        assert_eq!(lookup.requests(operation), 0, "{operation:?}");
    }

    // Refused before anything is sent.
    let fresh = start().await;
    for args in [
        &["evidence", "--client", "../x"][..],
        &["evidence"],
        &["evidence", "--client", client, "--format", "csv"],
    ] {
        let out = against(&fresh).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // The format named as the flag and the extension name it, with what evidence writes.
    let out = against(&fresh)
        .args(["evidence", "--client", client, "-o", "case.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("writes no csv")
            && text(&out.stderr).contains("table, json, html"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fresh.total_requests(), 0);

    // Without the permissions: the usage, and what each permission would add.
    let denied = start().await;
    for operation in [
        Operation::GetOrganizationsLimitsChangerequests,
        Operation::PostUsageEventsQuery,
    ] {
        denied.fault_every(operation, forbidden());
    }
    let out = against(&denied)
        .args(["evidence", "--client", client, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("limits:organization:view"), "{stderr}");
    assert!(stderr.contains("usage:events:view"), "{stderr}");
    let case: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(case["events"].is_null() && case["changeRequests"].is_null());
    assert_eq!(case["missing"].as_array().unwrap().len(), 2);
}
