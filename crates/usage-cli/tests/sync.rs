//! `genesys-usage sync` as cron runs it: a child process against usage-fake on 127.0.0.1,
//! writing a dataset that is then read back file by file with the parquet crate. Checked:
//! one file per day and no key twice, the rows `jobs` gives for the same days, a rerun that
//! replaces only the re-pulled days, refusals before anything is sent, faults that lose
//! or double nothing, a `Failed` job that leaves the state alone, and kills at random
//! moments that a rerun repairs.
//!
//! The tests marked `ignore` need a real part `.ci/run` starts (DuckDB, an S3 server).

mod common;

use common::{against, fresh, text};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use arrow_array::{Array, Date32Array, Int64Array, StringArray, TimestampMillisecondArray};
use chrono::{Days, NaiveDate, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use usage_fake::{Completion, FakeConfig, FakeService, Fault, Operation, Outcome};

const STATE: &str = "_genesys_usage_sync.json";

async fn sync(fake: &FakeService, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = against(fake);
    cmd.arg("sync").arg("--to").arg(dir).args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn yesterday() -> NaiveDate {
    Utc::now().date_naive() - Days::new(1)
}

/// (date, client id, method, template) -> (requests, 429s)
type Rows = BTreeMap<(NaiveDate, String, String, String), (i64, i64)>;

/// One day's file as read back: its rows, and the `synced_at` they carry.
struct DayFile {
    rows: Rows,
    synced_at: Option<i64>,
}

fn read_day(path: &Path) -> DayFile {
    let bytes = bytes::Bytes::from(std::fs::read(path).unwrap());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap_or_else(|e| panic!("{}: not a whole Parquet file: {e}", path.display()))
        .build()
        .unwrap();
    let mut rows = Rows::new();
    let mut synced_at = None;
    for batch in reader {
        let batch = batch.unwrap();
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let date = column("date");
        let date = date.as_any().downcast_ref::<Date32Array>().unwrap();
        let text = |name: &str| {
            let array = column(name);
            let array = array
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..array.len())
                .map(|i| {
                    if array.is_valid(i) {
                        array.value(i).to_string()
                    } else {
                        String::new()
                    }
                })
                .collect::<Vec<_>>()
        };
        let number = |name: &str| {
            let array = column(name);
            array
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        let (clients, methods, uris) = (
            text("oauthClientId"),
            text("httpMethod"),
            text("templateUri"),
        );
        let (requests, limited) = (number("requestCount"), number("status429"));
        let stamps = column("synced_at");
        let stamps = stamps
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            let key = (
                date.value_as_date(i).unwrap(),
                clients[i].clone(),
                methods[i].clone(),
                uris[i].clone(),
            );
            assert!(
                rows.insert(key.clone(), (requests[i], limited[i]))
                    .is_none(),
                "{}: {key:?} twice",
                path.display()
            );
            synced_at = Some(stamps.value(i));
        }
    }
    DayFile { rows, synced_at }
}

/// Every day file of the dataset at `dir`, by date; panics on a leftover temporary file, a
/// file outside the layout, or a file that is not whole.
fn read_dataset(dir: &Path) -> BTreeMap<NaiveDate, DayFile> {
    let root = dir.join("usage/granularity=day");
    let mut days = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return days;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let date: NaiveDate = name
            .strip_prefix("date=")
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{name} is not a date partition"));
        let files: Vec<String> = std::fs::read_dir(entry.path())
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, vec!["part-0.parquet".to_string()], "{name}");
        let file = read_day(&entry.path().join("part-0.parquet"));
        assert!(
            file.rows.keys().all(|k| k.0 == date),
            "{name}: rows of another day"
        );
        days.insert(date, file);
    }
    days
}

fn all_rows(days: &BTreeMap<NaiveDate, DayFile>) -> Rows {
    days.values().flat_map(|d| d.rows.clone()).collect()
}

/// What `jobs` prints for the same days and shape, as the same map.
async fn jobs_rows(fake: &FakeService, first: NaiveDate, last: NaiveDate) -> Rows {
    let mut cmd = against(fake);
    cmd.args([
        "jobs",
        "--interval",
        &format!("{first}/{last}"),
        "--granularity",
        "Day",
        "--group-by",
        "OauthClientId,TemplateUri,HttpMethod",
        "--format",
        "ndjson",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                (
                    row["date"].as_str().unwrap().parse().unwrap(),
                    s(&row["oauthClient"]["id"]),
                    s(&row["httpMethod"]),
                    s(&row["templateUri"]),
                ),
                (
                    row["requestCount"].as_i64().unwrap(),
                    row["status429"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(STATE)).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_writes_each_day_once_and_a_rerun_replaces_only_the_repulled_days() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = fresh("sync-rerun");
    let out = sync(&fake, &dir, &["--since", "60d", "--page-size", "100"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "data goes to files, not stdout");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("sync: 60 days written"), "{stderr}");

    let first = yesterday() - Days::new(59);
    let days = read_dataset(&dir);
    let expected: Vec<NaiveDate> = first.iter_days().take(60).collect();
    assert_eq!(days.keys().copied().collect::<Vec<_>>(), expected);
    let synced = all_rows(&days);
    assert!(synced.len() > 1000, "{}", synced.len());
    assert_eq!(synced, jobs_rows(&fake, first, yesterday()).await);
    assert_eq!(state(&dir)["lastCompleteDay"], yesterday().to_string());
    assert_eq!(state(&dir)["schemaVersion"], 1);

    // Again: the last three days are pulled and replaced, the rest stays as it was.
    let jobs_before = fake.requests(Operation::PostUsageAggregatesQueryJobs);
    let out = sync(&fake, &dir, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sync: 3 days written"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        fake.requests(Operation::PostUsageAggregatesQueryJobs),
        jobs_before + 1
    );
    let again = read_dataset(&dir);
    assert_eq!(all_rows(&again), synced, "the same rows, none twice");
    for (date, file) in &again {
        let kept = file.synced_at == days[date].synced_at;
        let repulled = *date > yesterday() - Days::new(3);
        assert_eq!(kept, !repulled, "{date}: re-pulled {repulled}, kept {kept}");
    }
}

/// The API's hourly near-limit records of `first..=last`.
async fn api_rate_limits(
    fake: &FakeService,
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<usage_ext::RateLimitRecord> {
    common::queries(fake)
        .rate_limit_records(
            &format!("{first}T00:00:00Z/{}T00:00:00Z", last + Days::new(1)),
            usage_ext::Bucket::Hour,
        )
        .await
        .unwrap()
}

/// The hourly near-limit records in the rate-limit table's file of `day`.
fn read_rate_limit_day(dir: &Path, day: NaiveDate) -> Vec<(String, String, i64)> {
    let path = dir.join(format!(
        "ratelimits/granularity=hour/date={day}/part-0.parquet"
    ));
    let bytes = bytes::Bytes::from(std::fs::read(&path).unwrap());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let start = batch
            .column_by_name("bucketStart")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::TimestampMillisecondArray>()
            .unwrap()
            .clone();
        let entity = batch
            .column_by_name("entityId")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap()
            .clone();
        let count = batch
            .column_by_name("count")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap()
            .clone();
        for i in 0..batch.num_rows() {
            let at = chrono::DateTime::from_timestamp_millis(start.value(i)).unwrap();
            records.push((at.to_rfc3339(), entity.value(i).to_string(), count.value(i)));
        }
    }
    records
}

/// The rate-limit table beside the usage: a file for every synced day (a quiet day's is
/// empty) holding the API's hourly records, the state naming its days; a re-pull replaces
/// without doubling; a login without the permission leaves the table as it was and says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_keeps_the_rate_limit_table_beside_the_usage() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = fresh("sync-ratelimits");
    let out = sync(&fake, &dir, &["--since", "20d"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fake.requests(Operation::PostAnalyticsRatelimitsAggregatesQuery),
        1,
        "one request per job window"
    );
    let first = yesterday() - Days::new(19);
    let table = |dir: &Path| -> Vec<(String, String, i64)> {
        first
            .iter_days()
            .take(20)
            .flat_map(|day| read_rate_limit_day(dir, day))
            .collect()
    };
    let mut expected: Vec<(String, String, i64)> = api_rate_limits(&fake, first, yesterday())
        .await
        .into_iter()
        .map(|r| (r.bucket_start.to_rfc3339(), r.entity_id.unwrap(), r.count))
        .collect();
    expected.sort();
    let mut kept = table(&dir);
    kept.sort();
    assert!(!expected.is_empty());
    assert_eq!(kept, expected);
    let held = &state(&dir)["rateLimitDays"];
    assert_eq!(held["firstDay"], first.to_string());
    assert_eq!(held["lastDay"], yesterday().to_string());

    // Again: the re-pulled days replaced, none doubled.
    let out = sync(&fake, &dir, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut again = table(&dir);
    again.sort();
    assert_eq!(again, expected);

    // Without the permission: the usage is synced, the table and its days stay as they were.
    fake.fault_every(
        Operation::PostAnalyticsRatelimitsAggregatesQuery,
        Fault::Status {
            status: 403,
            retry_after: None,
        },
    );
    let out = sync(&fake, &dir, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("analytics:rateLimitAggregate:view"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(&state(&dir)["rateLimitDays"], held);
    let mut after = table(&dir);
    after.sort();
    assert_eq!(after, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_and_sends_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = fresh("sync-refusals");
    let ok = sync(&fake, &dir, &["--since", "5d"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let state_before = std::fs::read(dir.join(STATE)).unwrap();

    let a_file = dir.join(STATE);
    let newer = fresh("sync-newer");
    std::fs::create_dir_all(&newer).unwrap();
    std::fs::write(
        newer.join(STATE),
        String::from_utf8(state_before.clone())
            .unwrap()
            .replace("\"schemaVersion\": 1", "\"schemaVersion\": 7"),
    )
    .unwrap();
    let submitted = fake.requests(Operation::PostUsageAggregatesQueryJobs);
    let tokens = fake.requests(Operation::Token);
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (a_file.join("x"), vec![], "cannot write"),
        (
            dir.clone(),
            vec!["--group-by", "OauthClientId,UserId"],
            "another shape",
        ),
        (dir.clone(), vec!["--http-method", "GET"], "another shape"),
        (newer.clone(), vec![], "newer genesys-usage"),
        (fresh("sync-400d"), vec!["--since", "400d"], "one year"),
        (
            fresh("sync-repull"),
            vec!["--repull", "100d"],
            "longer than the window",
        ),
    ];
    for (to, args, says) in cases {
        let out = sync(&fake, &to, &args).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to:?} {args:?}: {stderr}");
        assert!(stderr.contains(says), "{to:?} {args:?}: {stderr}");
    }
    assert_eq!(
        fake.requests(Operation::PostUsageAggregatesQueryJobs),
        submitted
    );
    assert_eq!(fake.requests(Operation::Token), tokens, "not even a login");
    assert_eq!(std::fs::read(dir.join(STATE)).unwrap(), state_before);
    // The same flags in another order are the same shape.
    let same = sync(
        &fake,
        &dir,
        &["--group-by", "TemplateUri,HttpMethod,OauthClientId"],
    )
    .await;
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_during_a_sync_lose_and_double_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let clean = fresh("sync-clean");
    let out = sync(&fake, &clean, &["--since", "40d", "--page-size", "10"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = all_rows(&read_dataset(&clean));

    // One answer in ten, so that the client's four attempts ride every page out: a page
    // that fails four times is an error the run reports (exit 1), not one it hides.
    fake.fault_randomly(
        0.1,
        7,
        &[Operation::GetUsageAggregatesQueryJob],
        vec![
            Fault::rate_limited(0),
            Fault::Status {
                status: 503,
                retry_after: None,
            },
            Fault::DropConnection,
        ],
    );
    let gets_before = fake.requests(Operation::GetUsageAggregatesQueryJob);
    let faulted = fresh("sync-faulted");
    let out = sync(&fake, &faulted, &["--since", "40d", "--page-size", "10"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let served = fake.faults_served().len();
    let gets = fake.requests(Operation::GetUsageAggregatesQueryJob) - gets_before;
    assert!(served >= 8, "only {served} faults served in {gets} GETs");
    assert_eq!(all_rows(&read_dataset(&faulted)), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_exits_3_and_leaves_the_state_at_the_last_complete_day() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = fresh("sync-failed");
    let out = sync(&fake, &dir, &["--since", "10d"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let state_before = std::fs::read(dir.join(STATE)).unwrap();
    let days_before = all_rows(&read_dataset(&dir));

    fake.set_completion(Completion::AfterPolls(0), Outcome::Failed);
    let out = sync(&fake, &dir, &["--since", "200d"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join(STATE)).unwrap(), state_before);
    assert_eq!(all_rows(&read_dataset(&dir)), days_before);
}

/// A tiny seeded generator, so the kill moments are the same on every run.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        bound.mul_f64(fraction)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_at_twenty_moments_and_rerun_ends_as_an_uninterrupted_one() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    // Small pages and a little latency, so that a run spans many writes and pages.
    let args = ["--since", "60d", "--page-size", "40", "--concurrency", "1"];
    let whole = fresh("sync-whole");
    let started = Instant::now();
    let out = sync(&fake, &whole, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let took = started.elapsed();
    let expected = all_rows(&read_dataset(&whole));
    // A later run re-pulls a few days only: its kills are drawn within its own, shorter
    // span, or most of them would land after it ended.
    let started = Instant::now();
    let out = sync(&fake, &whole, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let took_repull = started.elapsed();
    assert_eq!(
        all_rows(&read_dataset(&whole)),
        expected,
        "a re-pull changes nothing"
    );

    let dir = fresh("sync-killed");
    let mut moments = Moments(20261201);
    let mut killed_mid_run = 0;
    for round in 0..20 {
        let mut cmd = sync_command(&fake, dir.to_str().unwrap(), &args);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // Start the run from scratch half of the time, so that kills land in the backfill
        // as well as in the re-pull of a later run.
        if round % 2 == 0 {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let mut child = cmd.spawn().unwrap();
        let at = moments.next_below(if round % 2 == 0 { took } else { took_repull });
        tokio::time::sleep(at).await;
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever is there is whole: every file reads, no key twice (read_dataset checks;
        // a temporary file may be left, which the rerun must remove).
        let root = dir.join("usage/granularity=day");
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries {
                let file = entry.unwrap().path().join("part-0.parquet");
                if file.exists() {
                    read_day(&file);
                }
            }
        }
        if dir.join(STATE).exists() {
            state(&dir);
        }
        let out = sync(&fake, &dir, &args).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} after {at:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            all_rows(&read_dataset(&dir)),
            expected,
            "round {round}, killed after {at:?}"
        );
    }
    assert!(
        killed_mid_run >= 10,
        "only {killed_mid_run} kills landed mid-run"
    );
}

const LOCK: &str = "_genesys_usage_sync.lock";

/// `sync --to TO ARGS` against `fake`, with its credentials and nothing else in the
/// environment.
fn sync_command(fake: &FakeService, to: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("genesys-usage"));
    cmd.env_clear()
        .envs(common::clock())
        .args(["--base-url", &fake.base_url()])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
        .args(["sync", "--to", to])
        .args(args);
    cmd
}

/// A sync of `to` started in the background, its output kept.
fn spawn_sync(fake: &FakeService, to: &str, args: &[&str]) -> std::process::Child {
    sync_command(fake, to, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 10 s) until `holds` says the run of `pid` holds its target.
async fn until_held(pid: u32, holds: impl Fn() -> Option<String>) {
    for _ in 0..400 {
        if holds().is_some_and(|text| text.contains(&format!("\"pid\": {pid}"))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("process {pid} never took the lock");
}

/// Two syncs on one directory, the second started while the first runs: the second
/// refuses at once (exit 2) naming the first, the first ends well, and the dataset is that
/// of one uninterrupted sync. A run killed while it holds the lock holds nothing: the next
/// one runs.
#[tokio::test(flavor = "multi_thread")]
async fn one_sync_at_a_time_per_directory_and_a_killed_one_holds_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let args = ["--since", "30d", "--concurrency", "1"];
    let whole = fresh("sync-lock-whole");
    let out = sync(&fake, &whole, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = all_rows(&read_dataset(&whole));

    // The first run's job takes two seconds, so the second starts while it holds the target.
    fake.set_completion(
        usage_fake::Completion::AfterTime(Duration::from_secs(2)),
        usage_fake::Outcome::Complete,
    );
    let dir = fresh("sync-lock");
    let to = dir.to_str().unwrap();
    let first = spawn_sync(&fake, to, &args);
    let lock = dir.join(LOCK);
    until_held(first.id(), || std::fs::read_to_string(&lock).ok()).await;
    // The refused run asks a fake of its own: the first run's requests go on meanwhile,
    // and none of the second's may be counted among them.
    let other = FakeService::start(FakeConfig::default()).await.unwrap();
    let second = sync(&other, &dir, &args).await;
    assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
    let said = text(&second.stderr);
    for part in [
        "another sync is running on it",
        &format!("process {}", first.id()),
        " since ",
    ] {
        assert!(said.contains(part), "{part:?} in {said}");
    }
    assert_eq!(other.total_requests(), 0, "the refused run sent nothing");
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        !text(&first.stderr).contains("removed"),
        "{}",
        text(&first.stderr)
    );
    assert_eq!(all_rows(&read_dataset(&dir)), expected, "the dataset whole");

    // Killed while it holds the lock: the kernel releases it, the next run takes it.
    let dir = fresh("sync-lock-killed");
    let to = dir.to_str().unwrap();
    let mut killed = spawn_sync(&fake, to, &args);
    let lock = dir.join(LOCK);
    until_held(killed.id(), || std::fs::read_to_string(&lock).ok()).await;
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let out = sync(&fake, &dir, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(all_rows(&read_dataset(&dir)), expected);
}

/// A stand-in for a credentials endpoint on 127.0.0.1: answers every request with
/// `status` and `body`, and records each request's head.
fn credentials_endpoint(
    status: &str,
    body: &str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (status, body, record) = (status.to_string(), body.to_string(), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut rest = vec![0; length];
            let _ = reader.read_exact(&mut rest);
            record.lock().unwrap().push(head);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (address, seen)
}

/// Without keys, web identity or container credentials set, the S3 credentials come from
/// the instance metadata service (EC2), at AWS_METADATA_ENDPOINT when set: here a local
/// endpoint that refuses, so nothing reaches for the real metadata address. The run exits
/// 2 before any request to the Usage API, naming what it tried and what it looked for.
#[tokio::test(flavor = "multi_thread")]
async fn s3_credentials_from_the_metadata_service_and_the_error_names_what_was_tried() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let (metadata, seen) = credentials_endpoint("404 Not Found", "");
    let mut cmd = sync_command(&fake, "s3://usage/p", &["--since", "3d"]);
    cmd.env("AWS_METADATA_ENDPOINT", &metadata)
        // Never reached: the credentials fail first.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "eu-west-1");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    for part in [
        &format!("the instance metadata service at {metadata}"),
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        assert!(said.contains(part), "{part:?} in {said}");
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.first()
            .is_some_and(|h| h.starts_with("PUT /latest/api/token")),
        "{seen:?}"
    );
    assert_eq!(fake.total_requests(), 0, "nothing sent to the Usage API");
}

/// A sync where a service runs with no keys in its environment: EKS Pod Identity's
/// container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI, here a local endpoint, and
/// the token file it is given), passed through to object_store as AWS's own tools read
/// them. The endpoint is asked with the token, and the sync writes to the local S3 server.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a local S3 server: .ci/run starts moto and runs it"]
async fn a_sync_to_s3_takes_container_credentials_from_the_environment() {
    let (endpoint, bucket) = s3_endpoint();
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let expires = (Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let (credentials, seen) = credentials_endpoint(
        "200 OK",
        &format!(
            r#"{{"AccessKeyId":"testing","SecretAccessKey":"testing","Token":"session","Expiration":"{expires}"}}"#
        ),
    );
    let dir = fresh("sync-pod-identity");
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "pod-identity-token").unwrap();
    let prefix = format!(
        "pod/{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let to = format!("s3://{bucket}/{prefix}");
    let mut cmd = sync_command(&fake, &to, &["--since", "3d"]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{credentials}/v1/credentials"),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token)
    .env("AWS_REGION", "us-east-1")
    .env("AWS_ENDPOINT_URL", &endpoint);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|h| h.starts_with("GET /v1/credentials")
            && h.to_ascii_lowercase()
                .contains("authorization: pod-identity-token")),
        "{seen:?}"
    );
    let objects = s3_objects(&endpoint, &bucket, &prefix).await;
    assert!(
        objects.keys().any(|k| k.ends_with("part-0.parquet")),
        "{:?}",
        objects.keys()
    );
}

/// Sends SIGTERM to `pid`, as systemd stops a service.
fn terminate(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A sync stopped by SIGTERM mid-run (systemd's stop) exits 130 within a few seconds,
/// saying so, and leaves what an interrupted run leaves: the next run takes the target at
/// once and ends with the dataset of an uninterrupted sync.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_stopped_by_sigterm_ends_as_interrupted_and_the_next_run_completes_it() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let args = ["--since", "120d", "--concurrency", "1"];
    let whole = fresh("sync-sigterm-whole");
    let out = sync(&fake, &whole, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = all_rows(&read_dataset(&whole));

    // Each job takes a second: the first window is in, the second one is not.
    fake.set_completion(
        usage_fake::Completion::AfterTime(Duration::from_secs(1)),
        usage_fake::Outcome::Complete,
    );
    let dir = fresh("sync-sigterm");
    let to = dir.to_str().unwrap();
    let stopped = spawn_sync(&fake, to, &args);
    let lock = dir.join(LOCK);
    until_held(stopped.id(), || std::fs::read_to_string(&lock).ok()).await;
    let state_file = dir.join(STATE);
    for _ in 0..200 {
        if state_file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sent = Instant::now();
    terminate(stopped.id());
    let stopped = stopped.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let said = text(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{said}");
    assert!(said.contains("stopped by a signal"), "{said}");
    assert!(
        read_dataset(&dir).len() < read_dataset(&whole).len(),
        "stopped before the end"
    );
    fake.set_completion(
        usage_fake::Completion::AfterPolls(0),
        usage_fake::Outcome::Complete,
    );
    let out = sync(&fake, &dir, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(all_rows(&read_dataset(&dir)), expected);
}

/// DuckDB, as a user runs it next, reads what `sync` wrote: its totals per client and day
/// are those of `jobs --format ndjson` for the same days. Needs the Python package
/// `duckdb` (`.ci/run` installs it).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs python3 with duckdb: .ci/run runs it"]
async fn duckdb_reads_the_dataset_with_the_totals_of_jobs() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = fresh("sync-duckdb");
    let out = sync(&fake, &dir, &["--since", "30d"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/duckdb_totals.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let duck: BTreeMap<String, BTreeMap<String, i64>> =
        serde_json::from_slice(&out.stdout).unwrap();
    let mut expected = BTreeMap::new();
    for ((date, client, _, _), (requests, _)) in
        jobs_rows(&fake, yesterday() - Days::new(29), yesterday()).await
    {
        *expected.entry(format!("{date} {client}")).or_insert(0) += requests;
    }
    assert_eq!(
        expected.len(),
        30 * usage_fake::OAUTH_CLIENTS.len(),
        "30 days of every client"
    );
    assert_eq!(duck["usage"], expected);
    // The rate-limit table, as the API answers the same days.
    let mut near = BTreeMap::new();
    for r in api_rate_limits(&fake, yesterday() - Days::new(29), yesterday()).await {
        *near
            .entry(format!(
                "{} {}",
                r.bucket_start.date_naive(),
                r.entity_id.unwrap()
            ))
            .or_insert(0) += r.count;
    }
    assert!(!near.is_empty());
    assert_eq!(duck["ratelimits"], near);
}

/// The S3-compatible server `.ci/run` starts (moto's server mode) and its bucket.
fn s3_endpoint() -> (String, String) {
    let endpoint = std::env::var("USAGE_TESTS_S3_ENDPOINT")
        .expect("USAGE_TESTS_S3_ENDPOINT: the local S3 server (.ci/run starts moto on 127.0.0.1)");
    let bucket = std::env::var("USAGE_TESTS_S3_BUCKET").unwrap_or_else(|_| "usage".into());
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "{endpoint}: loopback only"
    );
    (endpoint, bucket)
}

fn s3_env(cmd: &mut std::process::Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
}

fn s3_sync_command(
    fake: &FakeService,
    endpoint: &str,
    to: &str,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = sync_command(fake, to, args);
    s3_env(&mut cmd, endpoint);
    cmd
}

fn s3_store(endpoint: &str, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// Every object under `prefix`, by key relative to it.
async fn s3_objects(endpoint: &str, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    use futures_util::StreamExt as _;
    use object_store::ObjectStoreExt as _;
    let store = s3_store(endpoint, bucket);
    let root = object_store::path::Path::from(prefix);
    let metas: Vec<_> = object_store::ObjectStore::list(&store, Some(&root))
        .collect::<Vec<_>>()
        .await;
    let mut objects = BTreeMap::new();
    for meta in metas {
        let meta = meta.unwrap();
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let key = meta
            .location
            .as_ref()
            .strip_prefix(&format!("{prefix}/"))
            .unwrap()
            .to_string();
        objects.insert(key, bytes.to_vec());
    }
    objects
}

/// The rows of the day objects, as `read_dataset` reads a directory's.
fn s3_rows(objects: &BTreeMap<String, Vec<u8>>) -> Rows {
    let dir = fresh("sync-s3-read");
    for (key, bytes) in objects {
        if key.ends_with(".parquet") {
            let path = dir.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
    all_rows(&read_dataset(&dir))
}

/// A sync to `s3://` writes the objects a sync to a directory writes, and a rerun after a
/// kill completes it. Needs an S3-compatible server on 127.0.0.1 (`.ci/run` starts moto).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a local S3 server: .ci/run starts moto and runs it"]
async fn a_sync_to_s3_writes_what_a_sync_to_a_directory_writes_and_survives_a_kill() {
    let (endpoint, bucket) = s3_endpoint();
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let args = ["--since", "30d", "--page-size", "20", "--concurrency", "1"];
    let dir = fresh("sync-s3-dir");
    let out = sync(&fake, &dir, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = all_rows(&read_dataset(&dir));

    let prefix = format!(
        "runs/{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let to = format!("s3://{bucket}/{prefix}");
    let started = Instant::now();
    let out = s3_sync_command(&fake, &endpoint, &to, &args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let took = started.elapsed();
    let objects = s3_objects(&endpoint, &bucket, &prefix).await;
    let mut local: Vec<String> = read_dataset(&dir)
        .keys()
        .flat_map(|d| {
            [
                format!("usage/granularity=day/date={d}/part-0.parquet"),
                format!("ratelimits/granularity=hour/date={d}/part-0.parquet"),
            ]
        })
        .collect();
    // The events table: the days the directory's sync kept of it (its last 9).
    let events: Vec<String> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .map(|e| {
            let day = e.unwrap().file_name().to_string_lossy().into_owned();
            format!("events/{day}/part-0.parquet")
        })
        .collect();
    assert!(!events.is_empty(), "the directory keeps the events");
    local.extend(events);
    local.push(STATE.into());
    // And the lock, given back: kept, written released (a directory's is kept too).
    local.push(LOCK.into());
    local.sort();
    assert_eq!(
        objects.keys().cloned().collect::<Vec<_>>(),
        local,
        "the same objects"
    );
    assert!(released(Some(text(&objects[LOCK]))), "the lock given back");
    assert_eq!(s3_rows(&objects), expected);
    let state_s3: serde_json::Value = serde_json::from_slice(&objects[STATE]).unwrap();
    assert_eq!(state_s3["lastCompleteDay"], state(&dir)["lastCompleteDay"]);

    // Killed half way through a fresh sync, then run again: complete, nothing twice.
    let prefix = format!("{prefix}-killed");
    let to = format!("s3://{bucket}/{prefix}");
    let mut child = s3_sync_command(&fake, &endpoint, &to, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(took / 2).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let out = s3_sync_command(&fake, &endpoint, &to, &args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        s3_rows(&s3_objects(&endpoint, &bucket, &prefix).await),
        expected
    );

    // Plain http to anything but loopback is refused before anything is sent.
    let out = s3_sync_command(&fake, "http://192.0.2.1:9000", &to, &args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("loopback"),
        "{}",
        text(&out.stderr)
    );
}

/// One sync at a time per S3 prefix: a second run refuses naming the first; a run killed
/// while it holds the lock leaves the object, which the next run on the same host takes
/// (its process is gone); another host's lock holds until its expiry, and is taken after.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a local S3 server: .ci/run starts moto and runs it"]
async fn one_sync_at_a_time_per_s3_prefix_and_a_crashed_runs_lock_is_taken() {
    use object_store::ObjectStoreExt as _;
    let (endpoint, bucket) = s3_endpoint();
    let store = std::sync::Arc::new(s3_store(&endpoint, &bucket));
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let args = ["--since", "10d", "--concurrency", "1"];
    let prefix = format!(
        "locks/{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let to = format!("s3://{bucket}/{prefix}");
    let lock = object_store::path::Path::from(format!("{prefix}/{LOCK}"));
    let read_lock = |store: std::sync::Arc<object_store::aws::AmazonS3>| {
        let lock = lock.clone();
        move || {
            let (store, lock) = (store.clone(), lock.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let found = store.get(&lock).await.ok()?;
                    Some(text(&found.bytes().await.ok()?))
                })
            })
            .join()
            .unwrap()
        }
    };
    let run = |args: &[&str]| {
        let mut cmd = s3_sync_command(&fake, &endpoint, &to, args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };

    fake.set_completion(
        usage_fake::Completion::AfterTime(Duration::from_secs(2)),
        usage_fake::Outcome::Complete,
    );
    let mut cmd = s3_sync_command(&fake, &endpoint, &to, &args);
    let first = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_held(first.id(), read_lock(store.clone())).await;
    let second = run(&args).await.unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains(&format!("process {}", first.id())),
        "{}",
        text(&second.stderr)
    );
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(released(read_lock(store.clone())()), "released at the end");

    // SIGKILL while holding it: the object stays; the next run here takes it.
    let mut cmd = s3_sync_command(&fake, &endpoint, &to, &args);
    let mut killed = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until_held(killed.id(), read_lock(store.clone())).await;
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(
        read_lock(store.clone())().is_some(),
        "a killed run leaves its lock"
    );
    let out = run(&args).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("took over the lock of process {}", killed.id())),
        "{}",
        text(&out.stderr)
    );

    // SIGTERM while holding it (a service manager's stop): the run stops, exit 130, and
    // gives the lock back, so the next run (on any host) need not wait for it to lapse.
    let mut cmd = s3_sync_command(&fake, &endpoint, &to, &args);
    let stopped = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_held(stopped.id(), read_lock(store.clone())).await;
    terminate(stopped.id());
    let stopped = stopped.wait_with_output().unwrap();
    assert_eq!(
        stopped.status.code(),
        Some(130),
        "{}",
        text(&stopped.stderr)
    );
    assert!(
        released(read_lock(store.clone())()),
        "a stopped run gives its lock back"
    );
    let out = run(&args).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("took over"),
        "{}",
        text(&out.stderr)
    );

    // Another host's lock: it holds until it expires, then it is taken.
    fake.set_completion(
        usage_fake::Completion::AfterPolls(0),
        usage_fake::Outcome::Complete,
    );
    for (expires, code) in [(3600, 2), (-60, 0)] {
        let at = Utc::now() + chrono::Duration::seconds(expires);
        let body = serde_json::json!({
            "pid": 4242,
            "host": "another-host",
            "started": Utc::now().to_rfc3339(),
            "expires": at.to_rfc3339(),
        });
        store
            .put(&lock, body.to_string().into_bytes().into())
            .await
            .unwrap();
        let out = run(&args).await.unwrap();
        let said = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "expires in {expires} s: {said}"
        );
        assert!(said.contains("process 4242 on another-host"), "{said}");
    }
    assert!(released(read_lock(store.clone())()));
}

/// A lock given back: the object is kept, written `released` (S3 offers no conditional
/// delete, and an unconditional one could remove a successor's lock).
fn released(lock: Option<String>) -> bool {
    lock.and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|holder| holder["released"] == true)
}
