//! `allowance` against usage-fake: the period's requests so far are the fake's, per client
//! and in all; the projection, the overage and the change follow from them as documented;
//! `--from` a synced dataset answers the same and sends nothing; bad input sends nothing.

mod common;

use common::{against, text};

use std::process::Output;

use assert_cmd::Command;
use chrono::{Days, NaiveDate, Utc};
use serde_json::Value;
use usage_fake::{FakeConfig, FakeService};

async fn run(fake: &FakeService, args: &[&str]) -> Output {
    let mut cmd = against(fake);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

async fn json(fake: &FakeService, args: &[&str]) -> Value {
    let out = run(fake, args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Requests per client id over `first..=last`, as `jobs` exports them.
async fn jobs_by_client(
    fake: &FakeService,
    first: NaiveDate,
    last: NaiveDate,
) -> std::collections::BTreeMap<String, i64> {
    let interval = format!("{first}/{last}");
    let out = run(
        fake,
        &[
            "jobs",
            "--interval",
            &interval,
            "--group-by",
            "OauthClientId",
            "--format",
            "ndjson",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut sums = std::collections::BTreeMap::new();
    for line in text(&out.stdout).lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        *sums
            .entry(row["oauthClient"]["id"].as_str().unwrap().to_string())
            .or_default() += row["requestCount"].as_i64().unwrap();
    }
    sums
}

fn day(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_periods_requests_are_the_fakes_and_the_projection_follows_from_them() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let today = Utc::now().date_naive();
    let as_of = today - Days::new(3);
    let as_of_text = as_of.to_string();
    let args = [
        "allowance",
        "--licenses",
        "cx3=10,cx1=2",
        "--billing-day",
        "21",
        "--as-of",
        &as_of_text,
        "--format",
        "json",
    ];
    let report = json(&fake, &args).await;
    assert_eq!(report["estimate"], true);
    assert_eq!(report["allocation"], 10 * 140_000 + 2 * 75_000);
    let first = day(&report["periodFirstDay"]);
    let last = day(&report["periodLastDay"]);
    assert_eq!(first.format("%d").to_string(), "21");
    assert!(first <= as_of && as_of <= last + Days::new(1));
    let elapsed = report["daysElapsed"].as_i64().unwrap();
    assert_eq!(elapsed, (as_of - first).num_days());
    assert_eq!(
        elapsed + report["daysLeft"].as_i64().unwrap(),
        (last - first).num_days() + 1
    );

    let to_date = report["requestsToDate"].as_i64().unwrap();
    let clients = report["clients"].as_array().unwrap();
    if elapsed > 0 {
        let expected = jobs_by_client(&fake, first, as_of - Days::new(1)).await;
        assert_eq!(to_date, expected.values().sum::<i64>());
        for client in clients {
            let id = client["oauthClientId"].as_str().unwrap();
            assert_eq!(
                client["requestsToDate"].as_i64(),
                expected.get(id).copied(),
                "{id}"
            );
        }
    }
    let projected = report["projected"].as_f64().unwrap();
    let (low, high) = (
        report["projectedLow"].as_f64().unwrap(),
        report["projectedHigh"].as_f64().unwrap(),
    );
    assert!(low <= projected && projected <= high, "{report}");
    assert!(low >= to_date as f64);
    let allocation = report["allocation"].as_f64().unwrap();
    assert_eq!(
        report["projectedOverage"].as_f64().unwrap(),
        (projected - allocation).max(0.0)
    );
    let shares: f64 = clients
        .iter()
        .map(|c| c["shareOfProjection"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");

    // The change: against the same days of the period before, as the fake counts them.
    if elapsed > 0 {
        let before_first = first.checked_sub_months(chrono::Months::new(1)).unwrap();
        let before = jobs_by_client(
            &fake,
            before_first,
            before_first + Days::new(elapsed as u64 - 1),
        )
        .await;
        for client in clients {
            let id = client["oauthClientId"].as_str().unwrap();
            assert_eq!(
                client["previousRequests"].as_i64(),
                before.get(id).copied(),
                "{id}"
            );
        }
    }

    // The previous period is complete: the projection is what happened.
    let mut previous_args = args.to_vec();
    previous_args.extend(["--period", "previous"]);
    let previous = json(&fake, &previous_args).await;
    assert_eq!(previous["daysLeft"], 0);
    let total = previous["requestsToDate"].as_f64().unwrap();
    for field in ["projected", "projectedLow", "projectedHigh", "runRate"] {
        assert_eq!(previous[field].as_f64().unwrap(), total, "{field}");
    }
    assert_eq!(day(&previous["periodLastDay"]) + Days::new(1), first);

    // A client left out is out of every figure.
    let left_out = clients[0]["oauthClientId"].as_str().unwrap().to_string();
    let mut excluded_args = args.to_vec();
    excluded_args.extend(["--exclude-client", &left_out]);
    let excluded = json(&fake, &excluded_args).await;
    assert!(
        excluded["clients"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["oauthClientId"] != left_out.as_str())
    );
    assert_eq!(
        excluded["requestsToDate"].as_i64().unwrap(),
        to_date - clients[0]["requestsToDate"].as_i64().unwrap()
    );

    // From a synced dataset: the same report, nothing sent.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allowance-from");
    let _ = std::fs::remove_dir_all(&dir);
    let out = run(
        &fake,
        &["sync", "--to", dir.to_str().unwrap(), "--since", "120d"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sent = fake.total_requests();
    let mut from_args = args.to_vec();
    from_args.extend(["--from", dir.to_str().unwrap()]);
    let mut cmd = Command::cargo_bin("genesys-usage").unwrap();
    cmd.env_clear().envs(common::clock()).args(&from_args);
    let from = cmd.output().unwrap();
    assert_eq!(from.status.code(), Some(0), "{}", text(&from.stderr));
    assert_eq!(fake.total_requests(), sent, "--from sent nothing");
    let from: Value = serde_json::from_slice(&from.stdout).unwrap();
    assert_eq!(from, report);

    // The table says it is an estimate and names the overage or its absence.
    let out = run(
        &fake,
        &["allowance", "--allocation", "1000", "--as-of", &as_of_text],
    )
    .await;
    let table = text(&out.stdout);
    assert!(
        table.contains("(estimate)") && table.contains("Projected overage"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_and_sends_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let tomorrow = (Utc::now().date_naive() + Days::new(1)).to_string();
    let table = std::env::temp_dir().join(format!("allowances-{}.toml", std::process::id()));
    std::fs::write(
        &table,
        "source = \"x\"\nread = \"y\"\n[licenses]\ncx3 = { named = 1, extra = 2 }\n",
    )
    .unwrap();
    for (args, says) in [
        (
            vec!["allowance", "--licenses", "cx9=1"],
            "known: communicate, cx1, cx1-concurrent",
        ),
        (vec!["allowance", "--licenses", "cx3=lots"], "whole number"),
        (vec!["allowance"], "--licenses"),
        (
            vec!["allowance", "--licenses", "cx3=1", "--allocation", "5"],
            "cannot be used with",
        ),
        (
            vec!["allowance", "--allocation", "5", "--billing-day", "29"],
            "29",
        ),
        (
            vec!["allowance", "--allocation", "5", "--as-of", &tomorrow],
            "after today",
        ),
        (vec!["allowance", "--allocation", "0"], "above 0"),
        (
            vec!["check", "--since", "7d", "--allocation", "5"],
            "for --max-allocation-share",
        ),
        (vec!["serve", "--licenses", "cx9=1"], "known: communicate"),
        (
            vec![
                "allowance",
                "--licenses",
                "cx3=1",
                "--allowances",
                table.to_str().unwrap(),
            ],
            "unknown field",
        ),
    ] {
        let out = run(&fake, &args).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {says:?} in {}",
            text(&out.stderr)
        );
    }
    assert_eq!(fake.total_requests(), 0, "nothing sent");
    std::fs::remove_file(&table).unwrap();
}

/// `check --max-allocation-share`: exit 5 exactly when the projected (or, with `--to-date`,
/// the so-far) share of the allocation that `allowance` reports is over the limit; the
/// breach names the period, the projection and the top clients; the rules file's
/// `[allocation]` table judges the same.
#[tokio::test(flavor = "multi_thread")]
async fn check_breaches_the_allocation_share_that_allowance_reports() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let report = json(
        &fake,
        &[
            "allowance",
            "--licenses",
            "cx3=20",
            "--billing-day",
            "7",
            "--format",
            "json",
        ],
    )
    .await;
    let projected = report["projectedShare"].as_f64().unwrap() * 100.0;
    let to_date = report["shareToDate"].as_f64().unwrap() * 100.0;
    let top = report["clients"][0]["oauthClientName"]
        .as_str()
        .unwrap()
        .to_string();
    let check = |limit: f64, extra: &'static [&'static str]| {
        let fake = &fake;
        async move {
            let limit = format!("{limit:.4}%");
            let mut args = vec![
                "check",
                "--max-allocation-share",
                &limit,
                "--licenses",
                "cx3=20",
                "--billing-day",
                "7",
            ];
            args.extend_from_slice(extra);
            run(fake, &args).await
        }
    };
    let over = check(projected - 0.01, &[]).await;
    assert_eq!(over.status.code(), Some(5), "{}", text(&over.stderr));
    let line = text(&over.stdout);
    assert!(
        line.starts_with("projected share of the fair-use allocation, billing period "),
        "{line}"
    );
    assert!(line.contains(&top) && line.contains("(estimate"), "{line}");
    let under = check(projected + 0.01, &[]).await;
    assert_eq!(under.status.code(), Some(0), "{}", text(&under.stderr));
    if report["daysElapsed"] == 0 {
        // The billing day itself: no day of the period is complete, so nothing is spent to
        // date; the projection comes from the days before, and 0 % is a threshold like any.
        assert_eq!(to_date, 0.0, "{report}");
        assert!(projected > 0.0, "{report}");
        let zero = check(0.0, &["--to-date"]).await;
        assert_eq!(zero.status.code(), Some(0), "{}", text(&zero.stderr));
    } else {
        let so_far = check(to_date - 0.01, &["--to-date"]).await;
        assert_eq!(so_far.status.code(), Some(5), "{}", text(&so_far.stderr));
        assert!(text(&so_far.stdout).starts_with("to-date share"));
    }
    assert_eq!(
        check(to_date + 0.01, &["--to-date"]).await.status.code(),
        Some(0)
    );
    let json_out = check(projected - 0.01, &["--format", "json"]).await;
    let breaches: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(breaches[0]["rule"]["limit"], "maxAllocationShare");
    assert_eq!(breaches[0]["projected"], report["projected"]);

    // The same rule from a rules file, and bad ones refused before anything is sent.
    let dir = std::env::temp_dir().join(format!("allocation-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    std::fs::write(
        &file,
        format!(
            "[allocation]\nmax_share = \"{:.4}%\"\nlicenses = \"cx3=20\"\nbilling_day = 7\n",
            projected - 0.01
        ),
    )
    .unwrap();
    let out = run(&fake, &["check", "--rules", file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), line);
    let sent = fake.total_requests();
    for (body, says) in [
        (
            "[allocation]\nmax_share = \"80%\"\nlicenses = \"cx3=1\"\nbilling_day = 30\n",
            "billing_day",
        ),
        (
            "[allocation]\nmax_share = \"80%\"\nlicense = \"cx3=1\"\n",
            "unknown field",
        ),
        (
            "[allocation]\nmax_share = \"80%\"\nlicenses = \"cx9=1\"\n",
            "known: communicate",
        ),
        ("[allocation]\nmax_share = \"80%\"\n", "--licenses"),
    ] {
        std::fs::write(&file, body).unwrap();
        let out = run(&fake, &["check", "--rules", file.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(2), "{body}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{says:?} in {}",
            text(&out.stderr)
        );
    }
    assert_eq!(fake.total_requests(), sent, "bad rules send nothing");
    std::fs::remove_dir_all(&dir).unwrap();
}
