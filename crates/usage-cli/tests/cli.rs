//! `genesys-usage` as a user runs it: a child process, no terminal, an environment of our
//! choosing. Outputs are checked against what usage-fake holds, computed in-process through
//! usage-ext from the same seeded org.

mod common;

use common::{text, tool};

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use usage_ext::models::{ApiUsageOrganizationQuery, ApiUsageRow, Metric, OrganizationGroupBy};
use usage_ext::{PollPolicy, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService, Outcome};

/// A fixed window in the past: the same rows on any day.
/// A week, as `--interval` reads dates (both end days included)...
const INTERVAL: &str = "2026-10-01/2026-10-07";
/// ... and the same week as the original query's body takes it (instants, the end excluded).
const SENT_INTERVAL: &str = "2026-10-01T00:00:00.000Z/2026-10-08T00:00:00.000Z";

fn run(args: &[&str]) -> Output {
    tool().args(args).output().unwrap()
}

/// Rows the demo's org answers for `query`, asked in-process.
async fn demo_rows(query: &ApiUsageOrganizationQuery) -> Vec<ApiUsageRow> {
    let fake = FakeService::start(usage_cli::demo_config()).await.unwrap();
    let client = usage_ext::Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
        .build()
        .unwrap();
    UsageQueries::new(client)
        .with_policy(PollPolicy::default().with_initial_delay(Duration::from_millis(1)))
        .unwrap()
        .organization_usage(query)
        .await
        .unwrap()
        .results
}

fn by_client() -> ApiUsageOrganizationQuery {
    ApiUsageOrganizationQuery::new(SENT_INTERVAL)
        .with_group_by([OrganizationGroupBy::OAuthClientId])
}

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help", text(&out.stdout));
    let version = run(&["--version"]);
    assert_eq!(
        text(&version.stdout),
        format!("genesys-usage {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_outputs_carry_the_fakes_exact_rows() {
    let expected = demo_rows(&by_client()).await;
    assert_eq!(expected.len(), usage_fake::OAUTH_CLIENTS.len());
    let args = [
        "query",
        "--demo",
        "--interval",
        INTERVAL,
        "--group-by",
        "OAuthClientId",
    ];

    let csv_out = tool()
        .args(args)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(csv_out.status.success(), "{}", text(&csv_out.stderr));
    let csv_text = text(&csv_out.stdout);
    insta::assert_snapshot!("query_by_client_csv", csv_text);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected.len());
    for (record, row) in records.iter().zip(&expected) {
        assert_eq!(&record[column("clientId")], row.client_id());
        assert_eq!(
            record[column("requests")].parse::<i64>().unwrap(),
            row.requests.unwrap()
        );
        assert_eq!(
            record[column("status429")].parse::<i64>().unwrap(),
            row.status429.unwrap()
        );
    }

    let json_out = tool()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(json_out.status.success());
    insta::assert_snapshot!("query_by_client_json", text(&json_out.stdout));
    let rows: Vec<ApiUsageRow> = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(rows, expected, "JSON keeps the API's rows as they are");

    let ndjson_out = tool()
        .args(args)
        .args(["--format", "ndjson"])
        .output()
        .unwrap();
    assert!(ndjson_out.status.success());
    insta::assert_snapshot!("query_by_client_ndjson", text(&ndjson_out.stdout));
    let rows: Vec<ApiUsageRow> = text(&ndjson_out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows, expected);

    let table = tool().args(args).output().unwrap();
    assert!(table.status.success());
    insta::assert_snapshot!("query_by_client_table", text(&table.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_ranks_clients_by_429s_with_the_fakes_totals() {
    let rows = demo_rows(
        &ApiUsageOrganizationQuery::new(SENT_INTERVAL)
            .with_group_by([OrganizationGroupBy::OAuthClientId])
            .with_metrics([Metric::Requests, Metric::Status429]),
    )
    .await;
    let args = [
        "report",
        "--demo",
        "--api",
        "query",
        "--interval",
        INTERVAL,
        "--top",
        "2",
    ];
    let json_out = tool()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(json_out.status.success(), "{}", text(&json_out.stderr));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(report.len(), rows.len());
    for client in &report {
        let id = client["oauthClientId"].as_str().unwrap();
        let row = rows.iter().find(|r| r.client_id() == id).unwrap();
        assert_eq!(client["requestCount"], row.requests.unwrap());
        assert_eq!(client["status429"], row.status429.unwrap());
        assert!(client["topEndpoints"].as_array().unwrap().len() <= 2);
    }
    let limited: Vec<i64> = report
        .iter()
        .map(|c| c["status429"].as_i64().unwrap())
        .collect();
    assert!(limited.windows(2).all(|w| w[0] >= w[1]), "{limited:?}");

    let table = tool().args(args).output().unwrap();
    assert!(table.status.success());
    insta::assert_snapshot!("report_table", text(&table.stdout));
    let csv_out = tool()
        .args(args)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    insta::assert_snapshot!("report_csv", text(&csv_out.stdout));
}

/// The jobs API and the query API agree on the same days, and `jobs` streams every row.
#[test]
fn jobs_and_queries_agree_and_ndjson_streams_every_row() {
    let report = |api: &str| -> Vec<serde_json::Value> {
        let out = run(&[
            "report", "--demo", "--api", api, "--since", "14d", "--format", "json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The jobs add the trend; the totals are the same as the query's.
    let mut jobs = report("jobs");
    for client in &mut jobs {
        let daily: i64 = client["daily429"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .sum();
        assert_eq!(client["daily429"].as_array().unwrap().len(), 14);
        assert_eq!(
            client["status429"].as_i64(),
            Some(daily),
            "the daily job's 429s add up to the totals job's"
        );
        assert_eq!(client["previous"]["change"], "changed", "{client}");
        // The fake's one story: a client with 429s came near its limit, one without did not.
        let limited = client["status429"].as_i64() > Some(0);
        let limits = client.get("limits").and_then(|l| l.as_array()).cloned();
        assert_eq!(limits.is_some(), limited, "{client}");
        for limit in limits.unwrap_or_default() {
            // The fake's tracked limits, each with its value in its namespace.
            let value = match (
                limit["namespace"].as_str().unwrap(),
                limit["limitKey"].as_str().unwrap(),
            ) {
                ("platform.api", "client.credentials.token.rate.per.minute") => 600,
                ("platform.api", "token.rate.per.minute") => 300,
                ("auth.api", "client.credentials.token.rate.per.minute") => 300,
                ("platform.api", "org.app.user.rate.per.minute") => 3000,
                other => panic!("{other:?}"),
            };
            assert_eq!(limit["limitValue"], value, "{limit}");
            // A limit per user names its users, with the app; the others name none.
            let per_user = limit["limitKey"] == "org.app.user.rate.per.minute";
            assert_eq!(
                limit
                    .get("users")
                    .and_then(|u| u.as_array())
                    .is_some_and(|u| !u.is_empty()),
                per_user,
                "{limit}"
            );
            assert!(limit["nearLimitHours"].as_u64() >= Some(1), "{limit}");
            assert!(limit["peakHourUtc"].as_u64() < Some(24), "{limit}");
        }
        let object = client.as_object_mut().unwrap();
        object.remove("daily429");
        object.remove("previous");
        object.remove("limits");
        object.remove("nearLimitHours");
        for endpoint in object["topEndpoints"].as_array_mut().unwrap() {
            assert!(
                endpoint["previousRequestCount"].as_i64() > Some(0),
                "{endpoint}"
            );
            endpoint
                .as_object_mut()
                .unwrap()
                .remove("previousRequestCount");
        }
    }
    assert_eq!(jobs, report("query"));

    let out = run(&[
        "jobs",
        "--demo",
        "--since",
        "3d",
        "--group-by",
        "OauthClientId,UserId,TemplateUri",
        "--format",
        "ndjson",
        "--page-size",
        "7",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // One row per series of the demo's org, in pages of 7.
    assert_eq!(rows.len(), usage_cli::demo_config().rows);
    assert!(rows.iter().all(|r| r["requestCount"].as_i64() > Some(0)));
}

#[test]
fn without_credentials_it_names_the_variables_and_demo_and_sends_nothing() {
    let out = run(&["report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    insta::assert_snapshot!("no_credentials", text(&out.stderr));
}

#[test]
fn misspelled_or_partial_configuration_says_what_is_missing() {
    let misspelled = tool()
        .args(["report"])
        .env("GENESYSCLOUD_CLIENT_ID", "abc")
        .env("GENESYSCLOUD_CLIENT_SECRET", "not-printed-7f3a")
        .env("GENESYSCLOUD_REGION", "eu_west_1")
        .output()
        .unwrap();
    assert_eq!(misspelled.status.code(), Some(2));
    let stderr = text(&misspelled.stderr);
    assert!(
        !stderr.contains("not-printed-7f3a"),
        "the secret was printed"
    );
    insta::assert_snapshot!("misspelled", stderr);

    let region_only = tool()
        .args(["report"])
        .env("GENESYSCLOUD_REGION", "eu_west_1")
        .output()
        .unwrap();
    assert_eq!(region_only.status.code(), Some(2));
    insta::assert_snapshot!("region_only", text(&region_only.stderr));
    assert!(region_only.stdout.is_empty(), "no fake numbers");

    let no_region = tool()
        .args(["report"])
        .env("GENESYSCLOUD_ACCESS_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(no_region.status.code(), Some(2));
    assert!(text(&no_region.stderr).contains("GENESYSCLOUD_REGION"));
}

#[test]
fn usage_errors_exit_2_before_sending() {
    for args in [
        &["report", "--demo", "--interval", "last week"][..],
        &["report", "--demo", "--since", "7y"],
        &["query", "--demo", "--group-by", "Colour"],
        &["jobs", "--demo", "--interval", "2020-01-01/2020-02-01"],
        &["frobnicate"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Runs the tool against a fake started here, with its credentials in the environment.
async fn against(fake: &FakeService, args: &[&str]) -> Output {
    let mut cmd = tool();
    cmd.args(args)
        .args(["--base-url", &fake.base_url()])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret());
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_for_api_errors_failures_and_timeouts() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let ok = against(&fake, &["query", "--interval", INTERVAL]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    // A client the org does not have: the service's 404, exit 1.
    let missing = against(&fake, &["client", "no-such-client", "summary"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("404"),
        "{}",
        text(&missing.stderr)
    );

    fake.set_completion(Completion::AfterPolls(0), Outcome::Failed);
    let failed = against(&fake, &["query", "--interval", INTERVAL]).await;
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    fake.set_completion(Completion::AfterPolls(0), Outcome::Cancelled);
    let cancelled = against(&fake, &["jobs", "--since", "7d"]).await;
    assert_eq!(
        cancelled.status.code(),
        Some(3),
        "{}",
        text(&cancelled.stderr)
    );

    // Running until the test says otherwise.
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    fake.set_completion(
        Completion::When(Arc::new(move || flag.load(Ordering::SeqCst))),
        Outcome::Complete,
    );
    let slow = against(
        &fake,
        &["query", "--interval", INTERVAL, "--max-wait", "1s"],
    )
    .await;
    assert_eq!(slow.status.code(), Some(4), "{}", text(&slow.stderr));
    let stderr = text(&slow.stderr);
    assert!(stderr.contains("genesys-usage resume "), "{stderr}");

    // Resume: the same execution, once the service has finished it.
    let id = stderr
        .split("genesys-usage resume ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    finished.store(true, Ordering::SeqCst);
    let resumed = against(&fake, &["resume", &id, "--format", "json"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let rows: Vec<ApiUsageRow> = serde_json::from_slice(&resumed.stdout).unwrap();
    assert!(!rows.is_empty());
    assert_eq!(
        fake.requests(usage_fake::Operation::PostUsageQuery),
        3,
        "three queries submitted (ok, failed, slow); the resume submitted none"
    );

    let bad_secret = {
        let mut cmd = tool();
        cmd.args([
            "query",
            "--interval",
            INTERVAL,
            "--base-url",
            &fake.base_url(),
        ])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "wrong-secret-5e1d");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };
    assert_eq!(bad_secret.status.code(), Some(1));
    assert!(!text(&bad_secret.stderr).contains("wrong-secret-5e1d"));
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_finds_a_query_or_a_job_by_its_id() {
    let fake = FakeService::start(FakeConfig {
        completion: Completion::AfterPolls(0),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = usage_ext::Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
        .build()
        .unwrap();
    let q = UsageQueries::new(client);
    let execution = q.submit_organization(&by_client()).await.unwrap();
    let job_request = serde_json::from_value(serde_json::json!({
        "interval": format!("{}/{}", chrono::Utc::now().date_naive() - chrono::Days::new(7), chrono::Utc::now().date_naive()),
        "groupBy": ["OauthClientId"],
    }))
    .unwrap();
    let job = q.submit_aggregate(&job_request).await.unwrap();

    let query_rows = against(
        &fake,
        &["resume", &execution.execution_id, "--format", "ndjson"],
    )
    .await;
    assert_eq!(
        query_rows.status.code(),
        Some(0),
        "{}",
        text(&query_rows.stderr)
    );
    assert_eq!(
        text(&query_rows.stdout).lines().count(),
        usage_fake::OAUTH_CLIENTS.len()
    );
    let job_rows = against(&fake, &["resume", &job.job_id, "--format", "ndjson"]).await;
    assert_eq!(
        job_rows.status.code(),
        Some(0),
        "{}",
        text(&job_rows.stderr)
    );
    assert!(text(&job_rows.stdout).contains("oauthClient"));
    let unknown = against(&fake, &["resume", "no-such-id"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("knows no usage query or aggregates query job"));
}

#[test]
fn nothing_but_text_when_not_a_terminal() {
    let out = run(&["report", "--demo", "-v"]);
    assert!(out.status.success());
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!stream.contains(&0x1b), "{name} has escape codes");
    }
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--demo: running against the built-in usage-fake"),
        "{stderr}"
    );
    assert!(
        stderr.contains("poll  1"),
        "-v prints the poll trace: {stderr}"
    );
    let quiet = run(&["report", "--demo", "--quiet"]);
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    assert_eq!(quiet.stdout, out.stdout);
}

#[test]
fn regions_lists_every_region() {
    let out = run(&["regions", "--format", "csv"]);
    assert!(out.status.success());
    let text = text(&out.stdout);
    assert_eq!(text.lines().count(), 1 + usage_ext::Region::ALL.len());
    assert!(text.contains("eu_west_1,mypurecloud.ie,https://api.mypurecloud.ie"));
}

#[test]
fn output_files_take_their_format_from_the_extension() {
    let dir = std::env::temp_dir().join(format!("genesys-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("usage.csv");
    let out = run(&[
        "query",
        "--demo",
        "--quiet",
        "--interval",
        INTERVAL,
        "--group-by",
        "OAuthClientId",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "data went to the file");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with("date,clientId,clientName,"),
        "{written}"
    );
    assert_eq!(
        written.lines().count(),
        1 + usage_fake::OAUTH_CLIENTS.len(),
        "a header and a row per client"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Under a pseudo-terminal (`script`), the spinner shows the job's status and is cleared
/// before the report is printed.
#[test]
fn on_a_terminal_progress_shows_then_clears_before_the_data() {
    let bin = assert_cmd::cargo::cargo_bin("genesys-usage");
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("{} report --demo --top 1", bin.display()))
        .arg("/dev/null")
        .env_clear()
        .envs(common::clock())
        .env("PATH", "/usr/bin:/bin")
        .env("TERM", "xterm")
        .output()
        .expect("`script` (util-linux) runs the tool under a pseudo-terminal");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let screen = String::from_utf8_lossy(&out.stdout).to_string();
    let spinner = screen.find("· poll ").expect("the spinner showed a poll");
    let heading = screen.find("Usage by OAuth client").expect("the report");
    assert!(spinner < heading);
    let cleared = screen[..heading]
        .rfind("\x1b[2K")
        .expect("the spinner line was cleared");
    assert!(
        !screen[cleared..heading].contains("poll"),
        "nothing of the spinner between the clear and the data"
    );
    assert!(
        !screen[heading..].contains("· poll "),
        "the spinner came back"
    );
}

/// Ctrl-C stops the wait at once and prints the command that resumes it.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_and_prints_the_resume_command() {
    use std::io::BufRead;
    let fake = FakeService::start(FakeConfig {
        completion: Completion::AfterTime(Duration::from_secs(3_600)),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"))
        .args([
            "query",
            "--interval",
            INTERVAL,
            "--base-url",
            &fake.base_url(),
        ])
        .env_clear()
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let result = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        let submitted = lines
            .by_ref()
            .take(10)
            .map(Result::unwrap)
            .find(|l| l.starts_with("Submitted usage query "))
            .expect("the submission is announced");
        let id = submitted.rsplit(' ').next().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let rest: Vec<String> = lines.take(10).map(Result::unwrap).collect();
        (id, rest, child.wait().unwrap())
    })
    .await
    .unwrap();
    let (id, rest, status) = result;
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains(&format!("genesys-usage resume {id}"))),
        "{rest:?}"
    );
}

/// The secret from stdin, and RUST_LOG turning on the SDK's tracing on stderr.
#[tokio::test(flavor = "multi_thread")]
async fn secret_from_stdin_and_rust_log() {
    let fake = FakeService::start(FakeConfig {
        completion: Completion::AfterPolls(0),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let mut cmd = tool();
    cmd.args(["query", "--interval", INTERVAL, "--client-secret-stdin"])
        .args(["--base-url", &fake.base_url()])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("RUST_LOG", "usage_client=debug")
        .write_stdin(format!("{}\n", fake.client_secret()));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("DEBUG"), "RUST_LOG: {stderr}");
    assert!(
        !stderr.contains(fake.client_secret()),
        "the secret was logged"
    );
    assert!(!stderr.contains('\x1b'));

    let mut empty = tool();
    empty
        .args(["query", "--interval", INTERVAL, "--client-secret-stdin"])
        .args(["--base-url", &fake.base_url()])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .write_stdin("");
    let out = tokio::task::spawn_blocking(move || empty.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        fake.requests(usage_fake::Operation::Token),
        1,
        "nothing sent without a secret"
    );
}

/// The NDJSON rows of a `jobs` run against `fake`.
async fn job_rows(fake: &FakeService, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["jobs", "--format", "ndjson"];
    all.extend_from_slice(args);
    let out = against(fake, &all).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A window longer than one job's 90 days runs as several jobs: every day once, none
/// missing, and the same totals as the windows asked for one by one.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_longer_than_a_job_is_split_with_no_day_twice_and_the_same_totals() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let by_day = ["--granularity", "Day", "--group-by", "OauthClientId"];
    let mut args = vec!["--since", "200d", "--concurrency", "3"];
    args.extend_from_slice(&by_day);
    let rows = job_rows(&fake, &args).await;
    assert_eq!(
        fake.requests(usage_fake::Operation::PostUsageAggregatesQueryJobs),
        3,
        "201 days are three jobs of at most 90 days"
    );
    let mut keys = std::collections::BTreeSet::new();
    for row in &rows {
        let key = (
            row["date"].as_str().unwrap().to_string(),
            row["oauthClient"]["id"].as_str().unwrap().to_string(),
        );
        assert!(keys.insert(key.clone()), "{key:?} appears twice");
    }
    let days: std::collections::BTreeSet<&str> = keys.iter().map(|(d, _)| d.as_str()).collect();
    let today = chrono::Utc::now().date_naive();
    // The fake has data up to yesterday, as the service.
    let expected: std::collections::BTreeSet<String> = (1..=200)
        .map(|back| (today - chrono::Days::new(back)).to_string())
        .collect();
    assert_eq!(
        days,
        expected.iter().map(String::as_str).collect(),
        "every day of the window once"
    );

    // The same days asked for as three windows of their own, by interval.
    let first = today - chrono::Days::new(200);
    let yesterday = today - chrono::Days::new(1);
    let mut sum_by_window = 0i64;
    let mut start = first;
    while start <= yesterday {
        let end = (start + chrono::Days::new(89)).min(yesterday);
        let interval = format!("{start}/{end}");
        let mut args = vec!["--interval", interval.as_str()];
        args.extend_from_slice(&by_day);
        sum_by_window += job_rows(&fake, &args)
            .await
            .iter()
            .map(|r| r["requestCount"].as_i64().unwrap())
            .sum::<i64>();
        start = end + chrono::Days::new(1);
    }
    let total: i64 = rows
        .iter()
        .map(|r| r["requestCount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, sum_by_window);

    // `report` over the same window agrees with the rows.
    let out = against(&fake, &["report", "--since", "200d", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let reported: i64 = report
        .iter()
        .map(|c| c["requestCount"].as_i64().unwrap())
        .sum();
    assert_eq!(reported, total);
}

#[test]
fn a_window_more_than_a_year_back_is_refused_naming_the_limit() {
    let out = run(&["jobs", "--demo", "--since", "400d"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("more than a year ago"), "{stderr}");
    assert!(out.stdout.is_empty());
    let ok = run(&["report", "--demo", "--since", "365d"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}

/// The trend: 429s day by day, the change against the 7 days before, in the table (blocks
/// under a UTF-8 locale, ASCII otherwise) and in JSON; `-v` says what the report spent, as
/// the fake counted it.
#[tokio::test(flavor = "multi_thread")]
async fn the_report_shows_the_trend_and_says_what_it_spent() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let before = fake.total_requests();
    let mut cmd = tool();
    cmd.args([
        "report",
        "--since",
        "7d",
        "-v",
        "--base-url",
        &fake.base_url(),
    ])
    .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
    .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
    .env("LANG", "en_US.UTF-8");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spent = fake.total_requests() - before;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("report: {spent} requests to the Usage API")),
        "the fake saw {spent}: {stderr}"
    );
    assert_eq!(
        fake.requests(usage_fake::Operation::PostUsageAggregatesQueryJobs),
        3,
        "totals, daily and the week before"
    );
    assert_eq!(
        fake.requests(usage_fake::Operation::PostAnalyticsRatelimitsAggregatesQuery),
        1,
        "the limits cost one request more"
    );
    let table = text(&out.stdout);
    assert!(table.contains("change against "), "{table}");
    assert!(table.contains("429s by day"), "{table}");
    assert!(table.contains(" pp"), "{table}");
    assert!(table.chars().any(|c| ('▁'..='█').contains(&c)), "{table}");

    let ascii = against(&fake, &["report", "--since", "7d"]).await;
    let ascii = text(&ascii.stdout);
    assert!(
        !ascii.chars().any(|c| ('▁'..='█').contains(&c)),
        "no UTF-8 locale: {ascii}"
    );
    assert!(ascii.is_ascii(), "{ascii}");

    let json = against(&fake, &["report", "--since", "7d", "--format", "json"]).await;
    let clients: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    for client in &clients {
        assert_eq!(client["daily429"].as_array().unwrap().len(), 7, "{client}");
        let previous = &client["previous"];
        let change = previous["requestCountChange"].as_f64().unwrap();
        let (now, then) = (
            client["requestCount"].as_f64().unwrap(),
            previous["requestCount"].as_f64().unwrap(),
        );
        assert!((change - (now - then) / then).abs() < 1e-9, "{client}");
    }
}

/// An `-o` that cannot be written is refused before any request, for every command.
#[tokio::test(flavor = "multi_thread")]
async fn an_output_that_cannot_be_written_is_refused_before_anything_is_sent() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = std::env::temp_dir();
    for output in ["/nonexistent/dir/x.csv", dir.to_str().unwrap()] {
        for command in [
            &["report"][..],
            &["query", "--interval", INTERVAL],
            &["jobs", "--since", "3d"],
            &["client", "some-client", "summary"],
            &["resume", "some-id"],
            &["regions"],
        ] {
            let mut args = command.to_vec();
            args.extend(["-o", output]);
            let out = against(&fake, &args).await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("cannot write there"), "{args:?}: {stderr}");
        }
    }
    assert_eq!(fake.total_requests(), 0, "not even a login");
}

/// `check` against the report's own figures: a breach for each client over the limit and
/// no other, exit 5; exit 0 when nothing is over; bad rules exit 2 before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn check_prints_each_breach_and_exits_5_and_refuses_bad_rules_before_sending() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("usage-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = [
        (
            "unknown.toml",
            "[[rule]]\nmax_share = \"5%\"\n",
            "unknown field",
        ),
        (
            "over.toml",
            "[[rule]]\nmax_429_share = \"120%\"\n",
            "at most 100%",
        ),
        ("negative.toml", "[[rule]]\nmax_429 = -1\n", "0 or more"),
    ];
    for (name, text, says) in bad {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = against(&fake, &["check", "--rules", path.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text_of(&out));
        assert!(text_of(&out).contains(says), "{name}: {}", text_of(&out));
    }
    for args in [
        &["check", "--max-429-share", "120%"][..],
        &["check", "--max-429", "-5"],
        &["check", "--max-growth", "fast"],
        &["check"],
    ] {
        let out = against(&fake, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text_of(&out));
    }
    assert_eq!(fake.total_requests(), 0, "bad rules send nothing");

    let report = against(
        &fake,
        &[
            "report", "--since", "7d", "--format", "json", "--top", "100",
        ],
    )
    .await;
    let clients: Vec<serde_json::Value> = serde_json::from_slice(&report.stdout).unwrap();
    // A limit between the week's calmest and busiest client, whatever the week: some over,
    // not all.
    let (calmest, busiest) = common::share_range(&clients);
    assert!(calmest < busiest, "{calmest} {busiest}");
    let share = (calmest + busiest) / 2.0;
    let limit = format!("{}%", share * 100.0);
    let over: Vec<&str> = clients
        .iter()
        .filter(|c| c["status429Share"].as_f64().unwrap() > share)
        .map(|c| c["oauthClientId"].as_str().unwrap())
        .collect();
    assert!(!over.is_empty() && over.len() < clients.len(), "{over:?}");
    let out = against(
        &fake,
        &[
            "check",
            "--since",
            "7d",
            "--max-429-share",
            &limit,
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text_of(&out));
    let breaches: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut named: Vec<&str> = breaches
        .iter()
        .map(|b| b["oauthClientId"].as_str().unwrap())
        .collect();
    let values: Vec<f64> = breaches
        .iter()
        .map(|b| b["value"].as_f64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]),
        "worst first: {values:?}"
    );
    assert!(values.iter().all(|v| *v > share));
    named.sort();
    let mut over = over;
    over.sort();
    assert_eq!(named, over, "the clients over the limit, and no other");

    // One line per breach for people; an excluded client is not judged (and when it was
    // the only one over, nothing is in breach: which clients are over depends on the week).
    let worst = over[0];
    let out = against(
        &fake,
        &[
            "check",
            "--since",
            "7d",
            "--max-429-share",
            &limit,
            "--exclude-client",
            worst,
        ],
    )
    .await;
    let expected = if over.len() > 1 { 5 } else { 0 };
    assert_eq!(out.status.code(), Some(expected), "{}", text_of(&out));
    let lines = text(&out.stdout);
    assert_eq!(lines.lines().count(), over.len() - 1, "{lines}");
    assert!(!lines.contains(worst), "{lines}");
    assert!(
        lines.lines().all(|l| l.starts_with("429 share of ")
            && l.contains(&format!(", limit {:.2} %", share * 100.0))),
        "{lines}"
    );

    // Per endpoint, from a file: an endpoint over a count.
    let path = dir.join("endpoints.toml");
    std::fs::write(&path, "[[rule]]\nmax_429 = 1000\nper = \"endpoint\"\n").unwrap();
    let out = against(
        &fake,
        &[
            "check",
            "--rules",
            path.to_str().unwrap(),
            "--format",
            "ndjson",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text_of(&out));
    for line in text(&out.stdout).lines() {
        let b: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            b["templateUri"].is_string() && b["value"].as_f64().unwrap() > 1000.0,
            "{b}"
        );
    }

    let calm = against(
        &fake,
        &["check", "--max-429-share", "99%", "--max-growth", "500%"],
    )
    .await;
    assert_eq!(calm.status.code(), Some(0), "{}", text_of(&calm));
    assert!(calm.stdout.is_empty());
    assert!(text(&calm.stderr).contains("nothing breached"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// `--since 1d` is yesterday, the first thing a daily cron job asks: every command sends the
/// one-day interval the jobs take (`D/D`, both ends included), and the fake's rows for that
/// day come back.
#[tokio::test(flavor = "multi_thread")]
async fn since_1d_is_yesterday_for_every_command() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let one_day = format!("{yesterday}/{yesterday}");
    let by_day = ["--granularity", "Day", "--group-by", "OauthClientId"];
    let mut args = vec!["--since", "1d"];
    args.extend_from_slice(&by_day);
    let rows = job_rows(&fake, &args).await;
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["date"] == yesterday.as_str()),
        "only yesterday: {rows:?}"
    );
    let mut args = vec!["--interval", one_day.as_str()];
    args.extend_from_slice(&by_day);
    assert_eq!(job_rows(&fake, &args).await, rows, "--interval {one_day}");
    let total: i64 = rows
        .iter()
        .map(|r| r["requestCount"].as_i64().unwrap())
        .sum();

    let out = against(&fake, &["report", "--since", "1d", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let reported: i64 = report
        .iter()
        .map(|c| c["requestCount"].as_i64().unwrap())
        .sum();
    assert_eq!(reported, total, "report --since 1d");

    let out = against(
        &fake,
        &["check", "--since", "1d", "--max-429-share", "100%"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = against(&fake, &["check", "--since", "1d", "--max-429", "0"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text_of(&out));

    // sync's default --repull 3d is clamped to the one-day window; an explicit one is not.
    let dir = std::env::temp_dir().join(format!("usage-since-1d-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let to = dir.to_str().unwrap();
    let out = against(&fake, &["sync", "--to", to, "--since", "1d"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let days_dir = dir.join("usage/granularity=day");
    let day_dir = days_dir.join(format!("date={yesterday}"));
    assert!(day_dir.is_dir(), "{}: {}", day_dir.display(), text_of(&out));
    let days = std::fs::read_dir(days_dir).unwrap().count();
    assert_eq!(days, 1, "one day written");
    let out = against(
        &fake,
        &["sync", "--to", to, "--since", "1d", "--repull", "3d"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("--repull 3d is longer"),
        "{}",
        text_of(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An interval that ends after the last complete day is refused before anything is sent
/// (exit 2), wherever an interval is taken: `…/9999-12-31` would otherwise be some 32,000
/// jobs against the org's rate limit, and today's usage is not complete.
#[tokio::test(flavor = "multi_thread")]
async fn an_interval_ending_after_the_last_complete_day_is_refused_before_sending() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let start = today.checked_sub_days(chrono::Days::new(20)).unwrap();
    let next_year = today.checked_add_days(chrono::Days::new(400)).unwrap();
    for end in [
        today.to_string(),
        next_year.to_string(),
        "9999-12-31".into(),
    ] {
        let interval = format!("{start}/{end}");
        for command in ["jobs", "report", "check"] {
            let mut args = vec![command, "--interval", &interval];
            if command == "check" {
                args.extend(["--max-429-share", "5%"]);
            }
            let out = against(&fake, &args).await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "the last complete day (UTC): end it on or before {yesterday}"
                )),
                "{args:?}: {stderr}"
            );
        }
    }
    let future = format!("{start}/{next_year}");
    let out = against(&fake, &["query", "--interval", &future]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("after now"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fake.total_requests(), 0, "nothing sent, not even a login");
    // The last complete day itself is taken.
    let ok = against(
        &fake,
        &["jobs", "--interval", &format!("{start}/{yesterday}")],
    )
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}
