//! Names from the org are data, not commands: a server whose OAuth clients are named with
//! terminal escape sequences, HTML and spreadsheet formulas, and whose template URIs hold
//! them too, sent through every output. The table and stderr show the control characters
//! escaped, CSV neutralises formulas (unless `--exact-csv`), JSON, NDJSON, Parquet and the
//! metrics keep the exact strings, and the HTML escapes everything.

mod common;

use std::collections::HashMap;
use std::process::Output;
use std::sync::{Arc, Mutex};

use arrow_array::{Array as _, StringArray};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::{Days, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

/// Retitles the window, rings the bell, turns what follows red, and is a live formula.
const FORMULA: &str = "=HYPERLINK(\"http://127.0.0.1/x\",\"click\")\u{1b}]0;PWNED\u{7}\u{1b}[31m";
const MARKUP: &str = "<img src=x onerror=alert(1)><script>alert(1)</script>\u{9b}2J\u{202e}";
/// Clears the screen.
const CLEAR: &str = "api/v2/\u{1b}[2Jusers";
const AT: &str = "@SUM(1+1)";
const ID_A: &str = "11111111-1111-4111-8111-111111111111";
const ID_B: &str = "22222222-2222-4222-8222-222222222222";

/// Submitted jobs by id, with their intervals: each job's rows are dated on its first day.
type Jobs = Arc<Mutex<HashMap<String, String>>>;

fn rows(first_day: &str) -> Value {
    let row = |id: &str, name: &str, uri: &str, requests: i64, limited: i64| {
        json!({
            "date": first_day,
            "oauthClient": {"id": id, "name": name},
            "httpMethod": "GET",
            "templateUri": uri,
            "requestCount": requests,
            "status200": requests - limited,
            "status300": 0,
            "status400": 0,
            "status429": limited,
            "status500": 0,
        })
    };
    json!([
        row(ID_A, FORMULA, CLEAR, 1000, 250),
        row(ID_B, MARKUP, AT, 500, 50),
    ])
}

/// A JSON answer (axum is built here without its `json` feature).
fn json_answer(status: u16, value: Value) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(value.to_string()))
        .unwrap()
}

async fn server() -> String {
    let jobs: Jobs = Arc::default();
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(|| async {
                json_answer(
                    200,
                    json!({"access_token": "t", "token_type": "bearer", "expires_in": 86400}),
                )
            }),
        )
        .route(
            "/api/v2/usage/aggregates/query/jobs",
            post(|State(jobs): State<Jobs>, body: String| async move {
                let body: Value = serde_json::from_str(&body).unwrap_or_default();
                let mut jobs = jobs.lock().unwrap();
                let id = format!("job-{}", jobs.len() + 1);
                let interval = body["interval"].as_str().unwrap_or_default().to_string();
                jobs.insert(id.clone(), interval);
                let uri = format!("/api/v2/usage/aggregates/query/jobs/{id}");
                json_answer(202, json!({"id": id, "selfUri": uri}))
            }),
        )
        .route(
            "/api/v2/usage/aggregates/query/jobs/{id}",
            get(
                |State(jobs): State<Jobs>, Path(id): Path<String>| async move {
                    let interval = jobs.lock().unwrap().get(&id).cloned().unwrap_or_default();
                    let first_day = interval.split('/').next().unwrap_or_default().to_string();
                    json_answer(
                        200,
                        json!({"queryStatus": "Succeeded", "entities": rows(&first_day)}),
                    )
                },
            ),
        )
        .with_state(jobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn run(url: &str, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"));
    cmd.env_clear()
        .envs(common::clock())
        .env("LANG", "C.UTF-8")
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "id")
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "secret")
        .args(["--base-url", url])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 5)),
        "{args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// No byte of a control sequence reaches the terminal: no ESC, BEL or C1 CSI, no bidi
/// override; the escaped forms are shown instead.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for c in text.chars() {
        assert!(
            c == '\n' || !(c.is_control() || c == '\u{202e}'),
            "{what}: {c:?} sent raw:\n{text}"
        );
    }
}

fn csv_records(bytes: &[u8]) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Every cell a spreadsheet would evaluate is neutralised; with `--exact-csv`, the strings
/// are the server's, byte for byte.
fn assert_csv(what: &str, neutral: &[u8], exact: &[u8]) {
    let (neutral, exact) = (csv_records(neutral), csv_records(exact));
    assert_eq!(neutral.len(), exact.len(), "{what}");
    let cells: Vec<&str> = neutral.iter().flat_map(|r| r.iter()).collect();
    for cell in &cells {
        let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
        assert!(
            !formula || cell.parse::<f64>().is_ok(),
            "{what}: {cell:?} would run as a formula"
        );
    }
    for wanted in [format!("'{FORMULA}"), format!("'{AT}")] {
        assert!(
            cells.contains(&wanted.as_str()),
            "{what}: {wanted:?} in {cells:?}"
        );
    }
    let exact: Vec<&str> = exact.iter().flat_map(|r| r.iter()).collect();
    for wanted in [FORMULA, AT, MARKUP, CLEAR] {
        assert!(
            exact.contains(&wanted),
            "{what} --exact-csv: {wanted:?} in {exact:?}"
        );
    }
}

fn json_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

fn assert_exact_json(what: &str, values: &[Value], names: &[&str]) {
    let mut strings = Vec::new();
    values.iter().for_each(|v| json_strings(v, &mut strings));
    for name in names {
        assert!(
            strings.iter().any(|s| s == name),
            "{what}: {name:?} kept exactly"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn names_from_the_api_cannot_drive_the_terminal_or_a_spreadsheet() {
    let url = server().await;
    let group = ["--group-by", "OauthClientId,TemplateUri,HttpMethod"];
    let all = [FORMULA, MARKUP, CLEAR, AT];

    // jobs: every format.
    let jobs = |format: &'static str, extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut args = vec!["jobs", "--since", "7d", "--format", format];
            args.extend_from_slice(&group);
            args.extend_from_slice(extra);
            run(&url, &args).await.stdout
        }
    };
    let table = jobs("table", &[]).await;
    assert_terminal_safe("jobs table", &table);
    let shown = String::from_utf8(table).unwrap();
    for escaped in [
        "\\x1b]0;PWNED\\x07\\x1b[31m",
        "\\x1b[2Jusers",
        "\\x9b2J\\u{202e}",
    ] {
        assert!(shown.contains(escaped), "{escaped} shown in:\n{shown}");
    }
    assert_csv(
        "jobs",
        &jobs("csv", &[]).await,
        &jobs("csv", &["--exact-csv"]).await,
    );
    let json: Vec<Value> = serde_json::from_slice(&jobs("json", &[]).await).unwrap();
    assert_exact_json("jobs json", &json, &all);
    let ndjson: Vec<Value> = String::from_utf8(jobs("ndjson", &[]).await)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_exact_json("jobs ndjson", &ndjson, &all);
    let metrics = String::from_utf8(jobs("openmetrics", &["--granularity", "Day"]).await).unwrap();
    // The exposition escapes `\`, `"` and line breaks in a label value, and nothing else.
    let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    for name in all {
        assert!(metrics.contains(&label(name)), "{name:?} in:\n{metrics}");
    }

    // report: the table, CSV, JSON and the HTML page.
    let report = |format: &'static str, extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut args = vec!["report", "--since", "7d", "--format", format];
            args.extend_from_slice(extra);
            run(&url, &args).await.stdout
        }
    };
    assert_terminal_safe("report table", &report("table", &[]).await);
    assert_csv(
        "report",
        &report("csv", &[]).await,
        &report("csv", &["--exact-csv"]).await,
    );
    let json: Value = serde_json::from_slice(&report("json", &[]).await).unwrap();
    assert_exact_json("report json", &[json], &all);
    let html = String::from_utf8(report("html", &[]).await).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;"), "{html}");

    // check: its lines and its CSV.
    let check = |format: &'static str, extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut args = vec![
                "check",
                "--since",
                "7d",
                "--max-429",
                "0",
                "--per",
                "endpoint",
                "--format",
                format,
            ];
            args.extend_from_slice(extra);
            let out = run(&url, &args).await;
            assert_eq!(out.status.code(), Some(5));
            assert_terminal_safe("check stderr", &out.stderr);
            out.stdout
        }
    };
    let lines = check("table", &[]).await;
    assert_terminal_safe("check lines", &lines);
    assert!(String::from_utf8(lines).unwrap().contains("\\x1b[2Jusers"));
    assert_csv(
        "check",
        &check("csv", &[]).await,
        &check("csv", &["--exact-csv"]).await,
    );

    // sync: the Parquet day keeps the exact strings.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("names-sync");
    let _ = std::fs::remove_dir_all(&dir);
    let out = run(
        &url,
        &["sync", "--to", dir.to_str().unwrap(), "--since", "1d"],
    )
    .await;
    assert_terminal_safe("sync stderr", &out.stderr);
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let file = dir.join(format!(
        "usage/granularity=day/date={yesterday}/part-0.parquet"
    ));
    let bytes = bytes::Bytes::from(std::fs::read(&file).unwrap());
    let mut strings = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        for column in ["oauthClientName", "templateUri"] {
            let array = batch.column_by_name(column).unwrap();
            let array = array.as_any().downcast_ref::<StringArray>().unwrap();
            strings.extend((0..array.len()).map(|i| array.value(i).to_string()));
        }
    }
    for name in all {
        assert!(strings.iter().any(|s| s == name), "{name:?} in {strings:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // evidence: the facts on a terminal escaped, the page escaped, JSON exact. (This server
    // has no limits family: the case says so and goes on.)
    let evidence = |format: &'static str| {
        let url = url.clone();
        async move {
            run(
                &url,
                &[
                    "evidence", "--client", ID_A, "--since", "7d", "--format", format,
                ],
            )
            .await
        }
    };
    let summary = evidence("table").await;
    assert_terminal_safe("evidence summary", &summary.stdout);
    assert_terminal_safe("evidence stderr", &summary.stderr);
    assert!(
        String::from_utf8(summary.stdout)
            .unwrap()
            .contains("\\x1b]0;PWNED")
    );
    let page = String::from_utf8(evidence("html").await.stdout).unwrap();
    assert!(
        page.contains("=HYPERLINK(&quot;http://127.0.0.1/x&quot;"),
        "{page}"
    );
    let json: Value = serde_json::from_slice(&evidence("json").await.stdout).unwrap();
    assert_eq!(
        json["oauthClientName"], FORMULA,
        "JSON keeps the exact name"
    );
}

/// A CSV written to a terminal is read by the terminal first: the org's names come escaped,
/// as in the table, with or without `--exact-csv`; the same CSV to a pipe keeps the bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_csv_on_a_terminal_is_escaped_and_a_piped_one_keeps_the_bytes() {
    let url = server().await;
    let bin = assert_cmd::cargo::cargo_bin("genesys-usage");
    for exact in ["", " --exact-csv"] {
        let line = format!(
            "{} --base-url {url} --quiet jobs --since 7d --group-by OauthClientId,TemplateUri --format csv{exact}",
            bin.display()
        );
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("script")
                .args(["-q", "-e", "-c", &line, "/dev/null"])
                .env_clear()
                .envs(common::clock())
                .env("PATH", "/usr/bin:/bin")
                .env("TERM", "xterm")
                .env("LANG", "C.UTF-8")
                .env("GENESYSCLOUD_OAUTHCLIENT_ID", "id")
                .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "secret")
                .output()
                .expect("`script` (util-linux) runs the tool under a pseudo-terminal")
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{exact}: {:?}", out.status);
        // The pseudo-terminal turns each line's end into CR LF: that CR is the terminal's.
        let screen = String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n");
        assert_terminal_safe(&format!("csv on a terminal{exact}"), screen.as_bytes());
        assert!(screen.contains("\\x1b]0;PWNED\\x07"), "{exact}: {screen}");
        assert!(screen.contains("\\x1b[2Jusers"), "{exact}: {screen}");
    }
    let piped = run(
        &url,
        &[
            "jobs",
            "--since",
            "7d",
            "--group-by",
            "OauthClientId,TemplateUri",
            "--format",
            "csv",
        ],
    )
    .await;
    assert!(
        String::from_utf8(piped.stdout).unwrap().contains(CLEAR),
        "a pipe gets the bytes"
    );
}
