//! `genesys-usage serve` as Prometheus scrapes it: a child process against usage-fake on
//! 127.0.0.1, scraped over plain HTTP. Checked: the fake's numbers for a client, `/healthz`,
//! a failed refresh that keeps the last values and counts the error, scrapes during
//! refreshes that each see one refresh whole, SIGTERM stopping it within a second, and bad
//! flags. The tests marked `ignore` need Debian's `prometheus` (promtool and a real server),
//! which `.ci/run` installs.

mod common;

use common::{against, scratch};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use usage_fake::{FakeConfig, FakeService, Fault, Operation};

/// A running exporter: the child and the address it printed.
struct Exporter {
    child: Child,
    address: String,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(fake: &FakeService, args: &[&str]) -> Exporter {
    let mut cmd = serve_command(fake, args);
    cmd.env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret());
    start(cmd, |_| {})
}

/// `serve` against `fake` on a free loopback port, with nothing in its environment.
fn serve_command(fake: &FakeService, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"));
    cmd.env_clear()
        .envs(common::clock())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--base-url",
            &fake.base_url(),
        ])
        .args(args);
    cmd
}

/// Starts the exporter; returns once it has printed its address. Its later stderr lines go
/// to `each_line`.
fn start(mut cmd: Command, each_line: impl Fn(&str) + Send + 'static) -> Exporter {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("serve: http://") {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    // Keep reading stderr so that the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            each_line(&line);
        }
    });
    Exporter { child, address }
}

/// A plain HTTP/1.1 GET; returns the status and the body.
fn get(address: &str, path: &str, accept: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_string());
    }
    // Chunked (Prometheus's API): sizes in hex, each chunk after its size line.
    let mut rest = body;
    let mut whole = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return (status, whole);
        }
        whole.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// `name{labels} value` samples of a scrape, by name and labels.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn sample(body: &str, name: &str) -> Option<f64> {
    samples(body).get(name).copied()
}

/// Waits (bounded) until `done` holds for a scrape; returns that scrape.
fn scrape_until(address: &str, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let (_, body) = get(address, "/metrics", None);
        if done(&body) {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refreshed(body: &str) -> bool {
    sample(body, "genesys_usage_last_refresh_success_timestamp_seconds").is_some()
}

/// An exporter against `fake`, once its first refresh is in; with that first scrape.
async fn refreshed_exporter(fake: &FakeService, args: &[&str]) -> (Exporter, String) {
    let exporter = serve(fake, args);
    let address = exporter.address.clone();
    let body = tokio::task::spawn_blocking(move || scrape_until(&address, refreshed))
        .await
        .unwrap();
    (exporter, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_shows_the_fakes_numbers_keeps_them_through_a_failed_refresh_and_stops_on_sigterm() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let (exporter, body) = refreshed_exporter(&fake, &["--refresh", "1s"]).await;
    assert_eq!(
        get(&exporter.address, "/healthz", None),
        (200, "ok\n".into())
    );

    // The 7 days up to yesterday of one client, as the jobs give them.
    let today = Utc::now().date_naive();
    let interval = format!("{}/{}", today - Days::new(7), today - Days::new(1));
    let mut cmd = against(&fake);
    cmd.args([
        "jobs",
        "--interval",
        &interval,
        "--group-by",
        "OauthClientId",
        "--format",
        "ndjson",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let expected: BTreeMap<String, f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                row["oauthClient"]["id"].as_str().unwrap().to_string(),
                row["requestCount"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        expected.len(),
        usage_fake::OAUTH_CLIENTS.len(),
        "{expected:?}"
    );
    let mut served: BTreeMap<String, f64> = BTreeMap::new();
    for (key, value) in samples(&body) {
        if key.starts_with("genesys_usage_requests{") && key.contains("window=\"7d\"") {
            let id = key
                .split("oauth_client_id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            *served.entry(id.to_string()).or_default() += value;
        }
    }
    assert_eq!(
        served, expected,
        "the 7 days per client, summed over its endpoints"
    );

    // A refresh that fails keeps the values and counts the error.
    fake.fault_every(
        Operation::PostUsageAggregatesQueryJobs,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
    );
    let address = exporter.address.clone();
    let failed = tokio::task::spawn_blocking(move || {
        scrape_until(&address, |b| {
            sample(b, "genesys_usage_refresh_errors_total").is_some_and(|n| n >= 1.0)
        })
    })
    .await
    .unwrap();
    let keep = |b: &str| {
        samples(b)
            .into_iter()
            .filter(|(k, _)| k.starts_with("genesys_usage_requests"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keep(&failed),
        keep(&body),
        "the last good values, served on"
    );
    assert!(sample(&failed, "genesys_usage_exporter_api_requests_total").unwrap() > 3.0);
    fake.clear_faults();

    // A job that ends `Failed` is a failed refresh too: counted, the values kept.
    let errors = sample(&failed, "genesys_usage_refresh_errors_total").unwrap();
    fake.set_completion(
        usage_fake::Completion::AfterPolls(0),
        usage_fake::Outcome::Failed,
    );
    let address = exporter.address.clone();
    let job_failed = tokio::task::spawn_blocking(move || {
        scrape_until(&address, |b| {
            sample(b, "genesys_usage_refresh_errors_total").is_some_and(|n| n > errors)
        })
    })
    .await
    .unwrap();
    assert_eq!(keep(&job_failed), keep(&body));
    fake.set_completion(
        usage_fake::Completion::AfterPolls(0),
        usage_fake::Outcome::Complete,
    );

    // SIGTERM: gone within a second, exit 0.
    let mut exporter = exporter;
    let pid = exporter.child.id();
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(1),
            "still running after 1 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_during_refreshes_sees_one_refresh_whole() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let exporter = serve(&fake, &["--refresh", "1s", "--top-endpoints", "1000"]);
    let address = exporter.address.clone();
    let series = |b: &str| {
        samples(b)
            .keys()
            .filter(|k| k.starts_with("genesys_usage_requests{"))
            .count()
    };
    let first = tokio::task::spawn_blocking(move || scrape_until(&address, refreshed))
        .await
        .unwrap();
    let many = series(&first);
    // From now on every other refresh has fewer series; a scrape must see one or the other.
    fake.set_rows(3);
    let address = exporter.address.clone();
    let few = tokio::task::spawn_blocking(move || {
        series(&scrape_until(&address, |b| {
            series(b) < many && series(b) > 0
        }))
    })
    .await
    .unwrap();
    let address = exporter.address.clone();
    let fake_rows = std::sync::Arc::new(fake);
    let toggler = {
        let fake = fake_rows.clone();
        std::thread::spawn(move || {
            for round in 0..8 {
                fake.set_rows(if round % 2 == 0 {
                    FakeConfig::default().rows
                } else {
                    3
                });
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let (_, body) = get(&address, "/metrics", None);
            let n = series(&body);
            assert!(
                n == many || n == few,
                "{n} series: neither {many} nor {few}"
            );
            seen.insert(n);
            std::thread::sleep(Duration::from_millis(10));
        }
        seen
    })
    .await
    .unwrap();
    toggler.join().unwrap();
    assert!(!seen.is_empty());
}

/// With an allocation, the billing period's gauges are `allowance`'s numbers for the same
/// org and flags, org-wide and per client; without one there are none.
#[tokio::test(flavor = "multi_thread")]
async fn serve_with_an_allocation_shows_the_billing_periods_figures_of_allowance() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let flags = ["--allocation", "1000", "--billing-day", "5"];
    let (_exporter, body) = refreshed_exporter(&fake, &flags).await;
    let mut cmd = against(&fake);
    cmd.arg("allowance")
        .args(flags)
        .args(["--format", "json"])
        .timeout(Duration::from_secs(60));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = samples(&body);
    let number = |field: &str| report[field].as_f64().unwrap().round();
    for (gauge, field) in [
        ("genesys_usage_allocation_requests", "allocation"),
        ("genesys_usage_period_requests", "requestsToDate"),
        ("genesys_usage_period_projected_requests", "projected"),
        (
            "genesys_usage_period_projected_low_requests",
            "projectedLow",
        ),
        (
            "genesys_usage_period_projected_high_requests",
            "projectedHigh",
        ),
    ] {
        assert_eq!(got.get(gauge), Some(&number(field)), "{gauge}");
    }
    assert!(number("projected") > 0.0, "{report}");
    let start: chrono::NaiveDate = report["periodFirstDay"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        got.get("genesys_usage_period_start_timestamp_seconds"),
        Some(&(start.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() as f64))
    );
    let clients = report["clients"].as_array().unwrap();
    assert!(!clients.is_empty());
    for c in clients {
        let labels = format!(
            "{{oauth_client_id=\"{}\",oauth_client_name=\"{}\"}}",
            c["oauthClientId"].as_str().unwrap(),
            c["oauthClientName"].as_str().unwrap()
        );
        assert_eq!(
            got.get(&format!(
                "genesys_usage_client_period_projected_requests{labels}"
            )),
            Some(&c["projected"].as_f64().unwrap().round()),
            "{labels}"
        );
        assert_eq!(
            got.get(&format!("genesys_usage_client_period_requests{labels}")),
            Some(&c["requestsToDate"].as_f64().unwrap()),
            "{labels}"
        );
    }
    // Without an allocation, no period gauges (and no job for them).
    let (_plain, body) = refreshed_exporter(&fake, &[]).await;
    assert!(!body.contains("genesys_usage_period_"), "{body}");
    assert!(!body.contains("genesys_usage_allocation_"), "{body}");
}

/// `serve --profile acme --profile broken`: one exporter for two orgs from the gc
/// configuration, every series labelled with its profile, each refreshed on its own: the
/// org whose secret is wrong fails its refreshes (counted, said on stderr) while the other
/// serves the fake's numbers, those of a one-org exporter.
#[tokio::test(flavor = "multi_thread")]
async fn serve_several_profiles_labels_each_orgs_series_and_one_failing_keeps_the_others() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("serve-profiles");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[acme]\nenvironment = \"mypurecloud.ie\"\nclient_credentials = \"{}\"\nclient_secret = \"{}\"\n\n\
             [broken]\nenvironment = \"mypurecloud.ie\"\nclient_credentials = \"{}\"\nclient_secret = \"not-the-secret\"\n",
            fake.client_id(),
            fake.client_secret(),
            fake.client_id()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (_one, single) = refreshed_exporter(&fake, &[]).await;
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let heard = said.clone();
    let mut cmd = serve_command(
        &fake,
        &["--profile", "acme", "-p", "broken", "--refresh", "2s"],
    );
    cmd.arg("--gc-config").arg(&config);
    let exporter = start(cmd, move |line| {
        heard.lock().unwrap().push_str(line);
        heard.lock().unwrap().push('\n');
    });
    let address = exporter.address.clone();
    let body = tokio::task::spawn_blocking(move || {
        scrape_until(&address, |body| {
            let got = samples(body);
            got.contains_key(
                "genesys_usage_last_refresh_success_timestamp_seconds{profile=\"acme\"}",
            ) && got
                .get("genesys_usage_refresh_errors_total{profile=\"broken\"}")
                .is_some_and(|n| *n >= 2.0)
        })
    })
    .await
    .unwrap();
    let got = samples(&body);
    // acme's series are the one-org exporter's, labelled.
    let single = samples(&single);
    let usage: Vec<(&String, &f64)> = single
        .iter()
        .filter(|(k, _)| k.starts_with("genesys_usage_requests{"))
        .collect();
    assert!(usage.len() > 10);
    for (key, value) in usage {
        let labelled = key.replacen('{', "{profile=\"acme\",", 1);
        assert_eq!(got.get(&labelled), Some(value), "{labelled}");
    }
    // broken has no usage series, its errors counted, and it kept acme's going.
    assert!(
        !body.contains("profile=\"broken\",oauth_client_id"),
        "{body}"
    );
    assert!(
        got.get("genesys_usage_refreshes_total{profile=\"broken\"}")
            .is_some_and(|n| *n >= 2.0)
    );
    assert_eq!(
        body.matches("# TYPE genesys_usage_requests gauge").count(),
        1
    );
    assert!(
        !body
            .lines()
            .any(|l| l.starts_with("genesys_usage_requests{oauth")),
        "every series labelled"
    );
    let said = said.lock().unwrap().clone();
    assert!(said.contains("refresh of profile broken failed"), "{said}");
    assert!(
        !said.contains("not-the-secret"),
        "no secret printed: {said}"
    );
    drop(exporter);

    // Credentials from a flag or the environment would be every org's: refused, as is
    // --profile twice for another command.
    for (args, env) in [
        (
            &["serve", "-p", "acme", "-p", "broken"][..],
            Some(("GENESYSCLOUD_OAUTHCLIENT_ID", "x")),
        ),
        (&["serve", "-p", "acme", "-p", "acme"], None),
        (&["serve", "-p", "acme", "-p", "broken", "--demo"], None),
        (&["report", "-p", "acme", "-p", "broken"], None),
    ] {
        let mut cmd = assert_cmd::Command::cargo_bin("genesys-usage").unwrap();
        cmd.env_clear()
            .envs(common::clock())
            .args(args)
            .arg("--gc-config")
            .arg(&config);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.timeout(Duration::from_secs(20)).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["serve", "--listen", "nowhere"][..],
        &["serve", "--refresh", "0s"],
        &["serve", "--top-endpoints", "-1"],
        &["serve", "--licenses", "cx9=1"],
        &["serve", "--allocation", "0"],
        &["serve", "--billing-day", "29", "--allocation", "1"],
        &["serve", "--allowances", "table.toml"],
    ] {
        let out = assert_cmd::Command::cargo_bin("genesys-usage")
            .unwrap()
            .env_clear()
            .args(args)
            .args(["--demo"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // The backfill needs days.
    let out = assert_cmd::Command::cargo_bin("genesys-usage")
        .unwrap()
        .env_clear()
        .args(["jobs", "--demo", "--format", "openmetrics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--granularity Day"));
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = assert_cmd::Command::cargo_bin("genesys-usage")
        .unwrap()
        .env_clear()
        .args(["serve", "--demo", "--listen", &address])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// promtool accepts a scrape and the alert rules; a real Prometheus on 127.0.0.1 scrapes the
/// exporter and answers a PromQL query with the fake's numbers; every query of the Grafana
/// dashboard is valid PromQL to it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Debian's prometheus (promtool and the server): .ci/run installs it and runs this"]
async fn prometheus_scrapes_serve_and_promtool_accepts_the_metrics_and_rules() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    // An allocation the demo org exceeds, so the overage alert has something to say.
    let (exporter, body) =
        refreshed_exporter(&fake, &["--refresh", "1h", "--allocation", "1000"]).await;
    assert!(
        body.contains("genesys_usage_period_projected_requests "),
        "{body}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.stdout.is_empty() && checked.stderr.is_empty(),
        "no lint: {checked:?}"
    );
    let rules = Command::new("promtool")
        .args(["check", "rules"])
        .arg(root.join("contrib/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "{}",
        String::from_utf8_lossy(&rules.stdout)
    );

    // A real Prometheus, scraping every second.
    let dir = scratch("prometheus");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: genesys-usage\n    static_configs:\n      - targets: [\"{}\"]\n",
            root.join("contrib/prometheus/alerts.yml").display(),
            exporter.address
        ),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = format!("127.0.0.1:{port}");
    let client = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d";
    let promql =
        format!("sum(genesys_usage_requests{{window=\"7d\",oauth_client_id=\"{client}\"}})");
    let api_for_wait = api.clone();
    let answer = tokio::task::spawn_blocking(move || {
        first_result(&api_for_wait, &promql, "Prometheus never had the series")
    })
    .await
    .unwrap();
    let value: f64 = answer["value"][1].as_str().unwrap().parse().unwrap();
    let expected: f64 = samples(&body)
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("genesys_usage_requests{")
                && k.contains(client)
                && k.contains("window=\"7d\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert!(expected > 0.0);
    assert_eq!(value, expected, "Prometheus has the fake's numbers");
    let dashboard: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("contrib/grafana/dashboard.json")).unwrap(),
    )
    .unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exprs.len(), 13);
    for expr in exprs {
        let api = api.clone();
        let answer = tokio::task::spawn_blocking(move || query(&api, &expr))
            .await
            .unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
    }
    // The projected overage alert, evaluated by Prometheus from the rules file: pending (it
    // waits 2 hours before firing), its value the projection.
    let api_for_alert = api.clone();
    let alert = tokio::task::spawn_blocking(move || {
        first_result(
            &api_for_alert,
            "ALERTS{alertname=\"GenesysUsageAllocationOverageProjected\"}",
            "the overage alert never went pending",
        )
    })
    .await
    .unwrap();
    assert_eq!(alert["metric"]["alertstate"], "pending", "{alert}");
    assert_eq!(alert["metric"]["severity"], "warning", "{alert}");
    // The org's limits reach Prometheus (the near-limit alert's threshold is tested on
    // fixed series by `promtool test rules` below: yesterday's hours move with the date).
    let api_for_limits = api.clone();
    let limits = tokio::task::spawn_blocking(move || {
        first_result(
            &api_for_limits,
            "genesys_usage_rate_limit_value{limit=\"client.credentials.token.rate.per.minute\"}",
            "Prometheus never had the org's limits",
        )
    })
    .await
    .unwrap();
    assert_eq!(limits["value"][1], "600", "{limits}");
    let unit = Command::new("promtool")
        .args(["test", "rules"])
        .arg(root.join("tests/fixtures/prometheus/alerts.test.yml"))
        .current_dir(root.join("contrib/prometheus"))
        .output()
        .unwrap();
    assert!(
        unit.status.success(),
        "{}{}",
        String::from_utf8_lossy(&unit.stdout),
        String::from_utf8_lossy(&unit.stderr)
    );
    let _ = prometheus.kill();
    let _ = prometheus.wait();

    // The backfill: a month of days that promtool loads into blocks, the fake's days all in.
    let history = dir.join("history.om");
    let mut cmd = against(&fake);
    cmd.args([
        "jobs",
        "--since",
        "30d",
        "--granularity",
        "Day",
        "--format",
        "openmetrics",
    ])
    .args(["--group-by", "OauthClientId,TemplateUri,HttpMethod", "-o"])
    .arg(&history);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(text.ends_with("# EOF\n"));
    let stamps: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(stamps.len(), 30, "one timestamp per day");
    let blocks = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&history)
        .arg(dir.join("blocks"))
        .output()
        .unwrap();
    assert!(
        blocks.status.success(),
        "{}{}",
        String::from_utf8_lossy(&blocks.stdout),
        String::from_utf8_lossy(&blocks.stderr)
    );
    assert!(std::fs::read_dir(dir.join("blocks")).unwrap().count() > 0);
}

/// The rate-limit gauges: each client's near-limit hours of the last complete day are the
/// fake's hourly near-limit records of that day, and the org's values beside the defaults.
#[tokio::test(flavor = "multi_thread")]
async fn serve_shows_the_hours_each_client_spent_near_a_limit_and_the_orgs_values() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let (_exporter, body) = refreshed_exporter(&fake, &["--refresh", "1h"]).await;
    let scraped = samples(&body);
    // Per client, summed over its limits (a series per client and limit).
    let mut near: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in scraped
        .iter()
        .filter(|(k, _)| k.starts_with("genesys_usage_rate_limit_near_seconds{"))
    {
        let id = k.split("oauth_client_id=\"").nth(1).unwrap();
        *near
            .entry(id.split('"').next().unwrap().to_string())
            .or_default() += *v;
    }
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let interval = format!(
        "{yesterday}T00:00:00Z/{}T00:00:00Z",
        chrono::Utc::now().date_naive()
    );
    let records = common::queries(&fake)
        .rate_limit_records(&interval, usage_ext::Bucket::Hour)
        .await
        .unwrap();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.count > 0) {
        *expected.entry(r.entity_id.clone().unwrap()).or_default() += 3600.0;
    }
    assert!(
        !expected.is_empty(),
        "the demo org comes near its limit daily"
    );
    assert_eq!(
        near, expected,
        "an hour per hour with records, per client, yesterday"
    );
    assert_eq!(
        scraped.get("genesys_usage_rate_limit_value{limit=\"client.credentials.token.rate.per.minute\",namespace=\"platform.api\"}"),
        Some(&600.0)
    );
    assert_eq!(
        scraped.get("genesys_usage_rate_limit_default{limit=\"client.credentials.token.rate.per.minute\",namespace=\"platform.api\"}"),
        Some(&300.0)
    );
    for family in ["rate_limit_aggregates", "organization_limits"] {
        assert_eq!(
            scraped.get(&format!("genesys_usage_family_up{{family=\"{family}\"}}")),
            Some(&1.0),
            "{family}"
        );
    }
}

/// A family that cannot be read is visible to an alert, not only absent: the aggregates
/// refused (403) is `genesys_usage_family_up{family="rate_limit_aggregates"} 0`, its gauges
/// gone, the usage and the org's limits served on.
#[tokio::test(flavor = "multi_thread")]
async fn serve_says_which_family_it_could_not_read() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    fake.fault_every(
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        Fault::Status {
            status: 403,
            retry_after: None,
        },
    );
    let (_exporter, body) = refreshed_exporter(&fake, &["--refresh", "1h"]).await;
    let scraped = samples(&body);
    assert_eq!(
        scraped.get("genesys_usage_family_up{family=\"rate_limit_aggregates\"}"),
        Some(&0.0),
        "{body}"
    );
    assert_eq!(
        scraped.get("genesys_usage_family_up{family=\"organization_limits\"}"),
        Some(&1.0)
    );
    assert!(
        !scraped
            .keys()
            .any(|k| k.starts_with("genesys_usage_rate_limit_near_")),
        "no near-limit gauges without the records"
    );
    assert!(
        scraped
            .keys()
            .any(|k| k.starts_with("genesys_usage_requests{"))
    );
}

/// A PromQL instant query through Prometheus's HTTP API at `api`.
/// The first series of Prometheus's answer to `promql`, asked again until there is one (at
/// most 60 s: Prometheus may still be starting, or not have scraped or evaluated yet).
fn first_result(api: &str, promql: &str, never: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let answer = TcpStream::connect(api).is_ok().then(|| query(api, promql));
        let first = answer
            .as_ref()
            .and_then(|a| a["data"]["result"].as_array())
            .and_then(|r| r.first());
        if let Some(first) = first {
            return first.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{never}: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn query(api: &str, promql: &str) -> serde_json::Value {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = get(api, &format!("/api/v1/query?query={encoded}"), None);
    assert_eq!(status, 200, "{promql}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// `serve --from` a dataset synced from the fake serves the series `serve` serves from the
/// fake's API (the same last day and 7 days), and sends the API nothing: its own
/// `genesys_usage_exporter_api_requests` is 0.
#[tokio::test(flavor = "multi_thread")]
async fn serve_from_a_dataset_serves_the_apis_series_and_sends_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("serve-from");
    let out = against(&fake)
        .args(["sync", "--to", dir.to_str().unwrap(), "--since", "10d"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No live counter: it would poll on while the dataset's exporter is counted.
    let (_api, from_api) = refreshed_exporter(&fake, &["--no-events"]).await;
    let before = fake.total_requests();
    let (_dataset, from_dataset) =
        refreshed_exporter(&fake, &["--from", dir.to_str().unwrap()]).await;
    assert_eq!(
        fake.total_requests(),
        before,
        "no request from the dataset's exporter"
    );
    let usage = |body: &str| -> BTreeMap<String, f64> {
        samples(body)
            .into_iter()
            .filter(|(k, _)| {
                [
                    "genesys_usage_requests",
                    "genesys_usage_429_ratio",
                    "genesys_usage_data_day",
                ]
                .iter()
                .any(|family| k.starts_with(family))
            })
            .collect()
    };
    let (api, dataset) = (usage(&from_api), usage(&from_dataset));
    assert!(api.len() > 20, "{from_api}");
    assert_eq!(dataset, api);
    assert_eq!(
        sample(&from_dataset, "genesys_usage_exporter_api_requests_total"),
        Some(0.0)
    );
    // The dataset keeps the near-limit records: the same gauges, the family up. It keeps
    // no org limits: no `up` series for them (nothing failed), and no value gauges.
    let near = |body: &str| -> BTreeMap<String, f64> {
        samples(body)
            .into_iter()
            .filter(|(k, _)| k.starts_with("genesys_usage_rate_limit_near_"))
            .collect()
    };
    assert!(!near(&from_api).is_empty(), "{from_api}");
    assert_eq!(near(&from_dataset), near(&from_api));
    let scraped = samples(&from_dataset);
    assert_eq!(
        scraped.get("genesys_usage_family_up{family=\"rate_limit_aggregates\"}"),
        Some(&1.0),
        "{from_dataset}"
    );
    assert!(
        !scraped.keys().any(|k| k.contains("organization_limits")
            || k.starts_with("genesys_usage_rate_limit_value")),
        "{from_dataset}"
    );
}

/// One exit code per signal, every time: Ctrl-C (SIGINT) is an interruption, 130; SIGTERM,
/// as a service manager stops the exporter, a clean 0. Two handlers used to race, so the
/// same signal gave 130 or 0 by chance: six rounds of each.
#[tokio::test(flavor = "multi_thread")]
async fn serve_exits_130_on_ctrl_c_and_0_on_sigterm_every_time() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    for round in 0..12 {
        let (signal, code) = if round % 2 == 0 {
            ("-INT", 130)
        } else {
            ("-TERM", 0)
        };
        let mut exporter = serve(&fake, &[]);
        Command::new("kill")
            .args([signal, &exporter.child.id().to_string()])
            .status()
            .unwrap();
        let stopped = Instant::now();
        let status = loop {
            if let Some(status) = exporter.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(5),
                "round {round}: still running 5 s after kill {signal}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(code), "round {round}: kill {signal}");
    }
}

/// The live counter: the operational events polled beside the daily gauges, each counted
/// once per client, definition and the limit's value, the events the SDK's query answers
/// for the lookback (24 h here: two polls of 12 h apart); the family up.
#[tokio::test(flavor = "multi_thread")]
async fn serve_counts_the_operational_events_live() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let started = Utc::now();
    let exporter = serve(&fake, &["--events-every", "12h"]);
    let address = exporter.address.clone();
    let body = tokio::task::spawn_blocking(move || {
        scrape_until(&address, |body| {
            sample(
                body,
                "genesys_usage_events_last_poll_success_timestamp_seconds",
            )
            .is_some()
        })
    })
    .await
    .unwrap();
    let polled = Utc::now();
    let scraped = samples(&body);
    assert_eq!(
        scraped.get("genesys_usage_family_up{family=\"operational_events\"}"),
        Some(&1.0),
        "{body}"
    );
    let mut counted: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (key, n) in scraped
        .iter()
        .filter(|(k, _)| k.starts_with("genesys_usage_operational_events_total{"))
    {
        let label = |name: &str| label_of(key, name);
        assert_eq!(label("event_definition"), "Rate limit near", "{key}");
        *counted
            .entry((label("oauth_client_id"), label("limit_value")))
            .or_default() += n;
    }
    // The SDK's events: all of those created in the day before the exporter started are
    // counted, and nothing past the day before the scrape.
    let sdk = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| {
        let fake = &fake;
        async move {
            use futures_util::StreamExt as _;
            let at = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            let mut by: BTreeMap<(String, String), f64> = BTreeMap::new();
            let events: Vec<_> = common::queries(fake)
                .operational_events(&format!("{}/{}", at(from), at(to)))
                .unwrap()
                .collect()
                .await;
            for e in events {
                let e = e.unwrap();
                *by.entry((e.entity_id.unwrap(), e.current_value.unwrap()))
                    .or_default() += 1.0;
            }
            by
        }
    };
    let inner = sdk(polled - chrono::Duration::hours(24), started).await;
    let outer = sdk(started - chrono::Duration::hours(24), polled).await;
    assert!(!inner.is_empty(), "the story has events every day");
    for (series, n) in &inner {
        assert!(
            counted.get(series).copied().unwrap_or(0.0) >= *n,
            "{series:?}: {body}"
        );
    }
    for (series, n) in &counted {
        assert!(
            outer.get(series).copied().unwrap_or(0.0) >= *n,
            "{series:?} counted twice"
        );
    }
}

/// `serve --notify`: the live counter's alerts, one per client and limit within the hour,
/// for each series it counted; restarted on the same state, none again.
#[tokio::test(flavor = "multi_thread")]
async fn serve_alerts_once_per_client_and_limit_across_a_restart() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let (url, received) = common::webhook().await;
    let state = scratch("serve-alerts").join("alerts.json");
    let args = [
        "--events-every",
        "12h",
        "--notify",
        &url,
        "--notify-state",
        state.to_str().unwrap(),
    ];
    let polled = |body: &str| {
        sample(
            body,
            "genesys_usage_events_last_poll_success_timestamp_seconds",
        )
        .is_some()
    };
    let series = |body: &str| -> std::collections::BTreeSet<(String, String)> {
        samples(body)
            .keys()
            .filter(|k| k.starts_with("genesys_usage_operational_events_total{"))
            .map(|k| (label_of(k, "oauth_client_id"), label_of(k, "limit_value")))
            .collect()
    };
    let exporter = serve(&fake, &args);
    let address = exporter.address.clone();
    let body = tokio::task::spawn_blocking(move || scrape_until(&address, polled))
        .await
        .unwrap();
    let counted = series(&body);
    assert!(!counted.is_empty(), "{body}");
    // Sent on their own tasks: waited for, bounded.
    let started = Instant::now();
    while received.lock().unwrap().len() < counted.len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerted: std::collections::BTreeSet<(String, String)> = received
        .lock()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["command"], "serve");
            (
                a["event"]["entityId"].as_str().unwrap().to_string(),
                a["event"]["currentValue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(alerted, counted, "an alert per client and limit counted");
    assert_eq!(
        received.lock().unwrap().len(),
        counted.len(),
        "and one only"
    );
    drop(exporter);

    // Restarted on the same state: no alert for a client and limit alerted before.
    let before = received.lock().unwrap().len();
    let exporter = serve(&fake, &args);
    let address = exporter.address.clone();
    tokio::task::spawn_blocking(move || scrape_until(&address, polled))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for alert in &received.lock().unwrap()[before..] {
        let key = (
            alert["event"]["entityId"].as_str().unwrap().to_string(),
            alert["event"]["currentValue"].as_str().unwrap().to_string(),
        );
        assert!(!alerted.contains(&key), "alerted again: {key:?}");
    }
}

/// The value of label `name` in a sample's key (`family{a="x",b="y"}`).
fn label_of(key: &str, name: &str) -> String {
    key.split(&format!("{name}=\""))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}
