//! `watch`: the operational events live, polled. Piped, each event is one NDJSON line, and
//! none twice however many polls see it; the events are the events query's of the
//! lookback; a poll that fails is said and the next catches up; Ctrl-C ends it with 0.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::text;
use futures_util::StreamExt as _;
use serde_json::Value;
use usage_fake::{FakeConfig, FakeService, Fault, Operation};

/// `watch` against `fake`, piped, until `done` says so of the lines so far (checked every
/// 50 ms, 30 s at most), then Ctrl-C; its lines, exit code and stderr.
fn watch(
    fake: &FakeService,
    args: &[&str],
    done: impl Fn(&[String]) -> bool,
) -> (Vec<String>, Option<i32>, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"))
        .env_clear()
        .envs(common::clock())
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
        .args(["--base-url", &fake.base_url(), "watch"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let started = Instant::now();
    while !done(&lines.lock().unwrap()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not done in 30 s: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "still running 10 s after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let lines = lines.lock().unwrap().clone();
    (lines, status.code(), stderr)
}

/// The events query's answer for `interval`, each as its JSON without the name.
async fn events_of(fake: &FakeService, interval: &str) -> Vec<Value> {
    common::queries(fake)
        .operational_events(interval)
        .unwrap()
        .map(|e| serde_json::to_value(e.unwrap()).unwrap())
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_each_event_once_as_ndjson_and_ends_on_ctrl_c() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    // A day back: some client of the story is near a limit in the last 24 hours at any
    // time of day.
    let before = chrono::Utc::now();
    let (lines, code, stderr) = {
        let fake = &fake;
        tokio::task::block_in_place(|| {
            // Three polls begun: the first two have printed what they saw.
            watch(fake, &["--every", "1s", "--lookback", "24h"], |lines| {
                !lines.is_empty() && fake.requests(Operation::PostUsageEventsQuery) >= 3
            })
        })
    };
    let after = chrono::Utc::now();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("watch: stopped"), "{stderr}");
    let printed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let unique: BTreeSet<String> = lines.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        lines.len(),
        "an event once, however many polls saw it"
    );
    // Every event created in the day before the first poll, none created after the last.
    let expected = events_of(
        &fake,
        &format!(
            "{}/{}",
            (after - chrono::Duration::hours(24)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            before.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        ),
    )
    .await;
    assert!(!expected.is_empty(), "the story has events every day");
    let without_name = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("eventDefinitionName");
        v
    };
    let shown: Vec<Value> = printed.iter().map(without_name).collect();
    for event in &expected {
        assert!(shown.contains(event), "{event} not shown");
    }
    assert!(
        printed
            .iter()
            .all(|e| e["eventDefinitionName"] == "Rate limit near")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_poll_is_said_and_the_next_catches_up() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    // The first poll is refused (a 403 is not retried, so the poll fails).
    fake.fault_nth(
        Operation::PostUsageEventsQuery,
        1,
        Fault::Status {
            status: 403,
            retry_after: None,
        },
    );
    let (lines, code, stderr) = {
        let fake = &fake;
        tokio::task::block_in_place(|| {
            watch(fake, &["--every", "1s", "--lookback", "24h"], |lines| {
                !lines.is_empty()
            })
        })
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("watch: a poll failed"), "{stderr}");
    assert!(stderr.contains("watch: polling again"), "{stderr}");
    assert!(!lines.is_empty(), "the next poll caught up: {stderr}");
    let unique: BTreeSet<&String> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len());
}

/// `watch --notify`: one alert per client and limit (an entity, a definition, the value
/// it was near) within the hour, however many events and polls; kept across a restart, so a
/// second watch on the same state sends none; the URL never printed.
#[tokio::test(flavor = "multi_thread")]
async fn watch_alerts_once_per_client_and_limit_and_remembers_across_a_restart() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let (url, received) = common::webhook().await;
    let state = common::fresh("watch-alerts").join("alerts.json");
    let args = [
        "--every",
        "1s",
        "--lookback",
        "24h",
        "--notify",
        &url,
        "--notify-state",
        state.to_str().unwrap(),
    ];
    let (lines, code, stderr) = {
        let (fake, received) = (&fake, received.clone());
        tokio::task::block_in_place(|| {
            watch(fake, &args, |lines| {
                !lines.is_empty()
                    && fake.requests(Operation::PostUsageEventsQuery) >= 3
                    && !received.lock().unwrap().is_empty()
            })
        })
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    let limits: BTreeSet<(String, String)> = lines
        .iter()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            (
                e["entityId"].as_str().unwrap().to_string(),
                e["currentValue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let alerts = received.lock().unwrap().clone();
    let alerted: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["event"]["entityId"].as_str().unwrap().to_string(),
                a["event"]["currentValue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        alerted.iter().cloned().collect::<BTreeSet<_>>(),
        limits,
        "an alert for each client and limit seen"
    );
    assert_eq!(alerted.len(), limits.len(), "and one only: {alerted:?}");
    let first = &alerts[0];
    assert_eq!(first["command"], "watch");
    let id = first["event"]["entityId"].as_str().unwrap();
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains(&format!("genesys-usage evidence --client {id}")),
        "{first}"
    );
    assert!(state.exists(), "the alerts sent are kept");

    // Restarted on the same state: the same events, no alert again.
    let (lines, code, stderr) = {
        let fake = &fake;
        tokio::task::block_in_place(|| {
            watch(fake, &args, |lines| {
                !lines.is_empty() && fake.requests(Operation::PostUsageEventsQuery) >= 6
            })
        })
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!lines.is_empty());
    // None for a client and limit alerted before (one whose first event came in between,
    // at an hour's turn, would be new).
    let again: Vec<Value> = received.lock().unwrap()[alerts.len()..].to_vec();
    for alert in &again {
        let key = (
            alert["event"]["entityId"].as_str().unwrap().to_string(),
            alert["event"]["currentValue"].as_str().unwrap().to_string(),
        );
        assert!(!alerted.contains(&key), "alerted again: {key:?}; {stderr}");
    }
}

#[test]
fn a_lookback_shorter_than_the_poll_is_refused() {
    let out = common::tool()
        .args(["--demo", "watch", "--every", "5m", "--lookback", "1m"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--lookback 60 s is shorter than --every 300 s"));
}
