//! Counts are never negative, and sums of huge ones saturate: `genesys-usage` run in-process
//! against a server whose job rows carry negative or overflowing counts names a negative
//! count as a malformed answer (exit 1) and never panics, in every command that sums or
//! subtracts them (report, check, allowance).

use chrono::{Days, Utc};
use clap::Parser as _;

use super::*;

const JOBS: &str = "/api/v2/usage/aggregates/query/jobs";

/// A server whose every job succeeds at once with `rows` (one per client and day of `days`).
async fn jobs_answering(counts: i64) -> Hostile {
    let today = Utc::now().date_naive();
    let days: Vec<String> = (2..=9)
        .map(|n| today.checked_sub_days(Days::new(n)).unwrap().to_string())
        .collect();
    Hostile::start(move |req, _| match (req.method.as_str(), req.path()) {
        (_, TOKEN) => token_ok(),
        ("POST", JOBS) => Act::json(202, json!({"id": "job-1"})),
        ("GET", path) if path.starts_with(JOBS) => {
            let entities: Vec<serde_json::Value> = days
                .iter()
                .flat_map(|date| {
                    ["a", "b"].map(|client| {
                        json!({"date": date, "oauthClient": {"id": client, "name": client},
                               "httpMethod": "GET", "templateUri": "api/v2/users",
                               "requestCount": counts, "status429": counts,
                               "status200": counts})
                    })
                })
                .collect();
            Act::json(
                200,
                json!({"queryStatus": "Succeeded", "entities": entities}),
            )
        }
        _ => Act::json(404, json!({"status": 404})),
    })
    .await
}

/// Runs the command line against `server`; its data goes to a file, not the test's stdout.
async fn genesys_usage(server: &Hostile, args: &[&str]) -> u8 {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!(
        "hostile-counts-{}-{run}-{}.json",
        std::process::id(),
        args[0]
    ));
    let url = server.url();
    let mut line = vec!["genesys-usage", "--base-url", url.as_str(), "--quiet", "-o"];
    line.push(out.to_str().unwrap());
    line.extend_from_slice(args);
    let cli = usage_cli::cli::Cli::try_parse_from(&line).expect("a valid command line");
    let vars = vec![
        (
            "GENESYSCLOUD_OAUTHCLIENT_ID".to_string(),
            CLIENT_ID.to_string(),
        ),
        (
            "GENESYSCLOUD_OAUTHCLIENT_SECRET".to_string(),
            SECRET.to_string(),
        ),
    ];
    let code = usage_cli::run(cli, vars, std::io::empty()).await;
    let _ = std::fs::remove_file(&out);
    code
}

fn commands() -> [Vec<&'static str>; 3] {
    [
        vec!["report", "--since", "9d"],
        vec![
            "check",
            "--since",
            "9d",
            "--max-growth",
            "10%",
            "--max-429-share",
            "5%",
        ],
        vec!["allowance", "--allocation", "1000"],
    ]
}

#[tokio::test]
async fn a_negative_count_is_a_malformed_answer_exit_1_in_every_command() {
    for counts in [-1, i64::MIN] {
        let server = jobs_answering(counts).await;
        for args in commands() {
            let code = genesys_usage(&server, &args).await;
            assert_eq!(code, 1, "{args:?} with counts {counts}");
        }
    }
}

#[tokio::test]
async fn counts_near_the_largest_saturate_and_never_panic() {
    let server = jobs_answering(i64::MAX).await;
    for args in commands() {
        let code = genesys_usage(&server, &args).await;
        // check may find its rules breached (5); nothing panics, nothing fails.
        assert!(matches!(code, 0 | 5), "{args:?}: exit {code}");
    }
}
