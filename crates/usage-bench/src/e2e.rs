//! One job end to end: token -> submit -> 3 Running polls -> Complete with N rows, against
//! usage-fake on loopback, through usage-ext with zero poll delay, vs plain reqwest +
//! serde_json doing the same six requests, and a raw-socket floor (`raw.rs`). The fake and
//! each job run in processes of their own, so a job's peak memory is its own; each process
//! then runs the job once more with what the first built (client, connection, token), for
//! what a later job of a running service costs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use usage_client::Client;
use usage_client::models::ApiUsageOrganizationQuery;
use usage_ext::{PollPolicy, UsageQueries};
use usage_fake::{Completion, FakeConfig, FakeService};

use crate::floor::PlainResult;
use crate::measure::{median, median_u64, ms, peak_rss_kib};

const RUNS: usize = 7;

/// One day, grouped by client, user and endpoint: one row per series of the fake's org, so
/// as many rows as it was started with. The SDK and the floor send this same body.
pub(crate) fn every_series_query() -> serde_json::Value {
    serde_json::json!({
        "interval": "2026-10-01/2026-10-02",
        "groupBy": ["OAuthClientId", "UserId", "TemplateUri", "HttpMethod"],
    })
}

pub async fn serve_fake(rows: &str, delay_ms: &str) -> crate::Result {
    let rows: usize = rows.parse()?;
    let fake = FakeService::start(FakeConfig {
        // 0: the default org's series.
        rows: if rows == 0 {
            FakeConfig::default().rows
        } else {
            rows
        },
        completion: Completion::AfterPolls(3),
        ..FakeConfig::default()
    })
    .await?;
    let delay = Duration::from_millis(delay_ms.parse()?);
    if !delay.is_zero() {
        for operation in usage_fake::Operation::ALL {
            fake.fault_every(operation, usage_fake::Fault::Delay(delay));
        }
    }
    println!("{}", fake.base_url());
    // Serves until the parent kills it.
    fake.wait().await;
    Ok(())
}

/// The SDK side of a benchmark: a client of the fake, polling without waits.
pub(crate) fn sdk_queries(
    url: &str,
    config: FakeConfig,
) -> Result<UsageQueries, Box<dyn std::error::Error>> {
    let client = Client::builder()
        .base_url(url)
        .client_credentials(config.client_id, config.client_secret)
        .build()?;
    Ok(UsageQueries::new(client).with_policy(
        PollPolicy::default()
            .with_initial_delay(Duration::ZERO)
            .with_factor(1.0)
            .with_max_delay(Duration::ZERO)
            .with_max_wait(Duration::from_secs(60)),
    )?)
}

pub async fn job(variant: &str, url: &str, rows: &str) -> crate::Result {
    let rows: usize = rows.parse()?;
    let config = FakeConfig::default();
    let started = Instant::now();
    // Each variant notes when its client is built and its first request goes out: the
    // time from there to rows in hand is the one compared with a client prebuilt. Then
    // the same job again in the same process, the client, its connection and its token
    // reused by every variant: what each later job of a running service costs.
    let first_request;
    // The first job's peak memory: the second may add a little, and is not what is compared.
    let peak;
    let (counts, next_job) = match variant {
        "sdk" => {
            let queries = sdk_queries(url, config)?;
            let query = serde_json::from_value::<ApiUsageOrganizationQuery>(every_series_query())?;
            first_request = Instant::now();
            let first = queries.organization_usage(&query).await?.results.len();
            peak = peak_rss_kib();
            let next = Instant::now();
            let second = queries.organization_usage(&query).await?.results.len();
            ((first, second), next.elapsed())
        }
        "floor" => {
            let http = reqwest::Client::new();
            first_request = Instant::now();
            let bearer = crate::floor::bearer(&http, url, &config).await?;
            let first = floor_query(&http, url, &bearer).await?;
            peak = peak_rss_kib();
            let next = Instant::now();
            let second = floor_query(&http, url, &bearer).await?;
            ((first, second), next.elapsed())
        }
        "raw" => {
            first_request = Instant::now();
            let mut raw = crate::raw::Raw::connect(url)?;
            let bearer = raw_token(&mut raw, &config)?;
            let first = raw_query(&mut raw, &bearer)?;
            peak = peak_rss_kib();
            let next = Instant::now();
            let second = raw_query(&mut raw, &bearer)?;
            ((first, second), next.elapsed())
        }
        other => return Err(format!("unknown variant {other}").into()),
    };
    // The first job's times, as before the second began.
    let elapsed = started.elapsed() - next_job;
    let from_first = first_request.elapsed() - next_job;
    if counts != (rows, rows) {
        return Err(format!("{variant}: {counts:?} rows, expected {rows} twice").into());
    }
    println!(
        "{} {} {} {}",
        elapsed.as_micros(),
        peak,
        from_first.as_micros(),
        next_job.as_micros()
    );
    Ok(())
}

/// The floor's submit and polls, with a token already had.
async fn floor_query(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let submitted: serde_json::Value = http
        .post(format!("{url}/api/v2/usage/query"))
        .header("authorization", bearer)
        .json(&every_series_query())
        .send()
        .await?
        .json()
        .await?;
    let id = submitted["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Bounded: the fake answers Running three times.
    for _ in 0..100 {
        let bytes = http
            .get(format!("{url}/api/v2/usage/query/{id}/results"))
            .header("authorization", bearer)
            .send()
            .await?
            .bytes()
            .await?;
        let result: PlainResult = serde_json::from_slice(&bytes)?;
        if result.query_status.as_deref() == Some("Complete") {
            return Ok(result.results.len());
        }
    }
    Err("floor: the query never completed".into())
}

/// The same six requests over one keep-alive socket, by hand (`raw.rs`).
fn raw_job(url: &str, config: &FakeConfig) -> Result<usize, Box<dyn std::error::Error>> {
    let mut raw = crate::raw::Raw::connect(url)?;
    let bearer = raw_token(&mut raw, config)?;
    raw_query(&mut raw, &bearer)
}

/// The token request, by hand; the `Bearer` header value.
fn raw_token(
    raw: &mut crate::raw::Raw,
    config: &FakeConfig,
) -> Result<String, Box<dyn std::error::Error>> {
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", config.client_id, config.client_secret))
    );
    let (_, token) = raw.request(
        "POST",
        "/oauth/token",
        &[
            ("authorization", &basic),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        b"grant_type=client_credentials",
    )?;
    let token: serde_json::Value = serde_json::from_slice(&token)?;
    Ok(format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    ))
}

/// Submit and polls by hand, with a token already had.
fn raw_query(raw: &mut crate::raw::Raw, bearer: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let query = serde_json::to_vec(&every_series_query())?;
    let (_, submitted) = raw.request(
        "POST",
        "/api/v2/usage/query",
        &[
            ("authorization", bearer),
            ("content-type", "application/json"),
        ],
        &query,
    )?;
    let submitted: serde_json::Value = serde_json::from_slice(&submitted)?;
    let path = format!(
        "/api/v2/usage/query/{}/results",
        submitted["executionId"].as_str().unwrap_or_default()
    );
    // Bounded: the fake answers Running three times.
    for _ in 0..100 {
        let (status, body) = raw.request("GET", &path, &[("authorization", bearer)], b"")?;
        if status != 200 {
            return Err(format!("raw: results answered {status}").into());
        }
        let result: PlainResult = serde_json::from_slice(&body)?;
        if result.query_status.as_deref() == Some("Complete") {
            return Ok(result.results.len());
        }
    }
    Err("raw: the query never completed".into())
}

/// usage-fake with `rows` series in a process of its own (`serve-fake`), and its URL. It
/// is killed when the handle is dropped.
pub(crate) async fn spawn_fake(
    rows: usize,
) -> Result<(tokio::process::Child, String), Box<dyn std::error::Error>> {
    spawn_fake_with(rows, Duration::ZERO).await
}

/// [`spawn_fake`], with `delay` added to every answer (0 rows: the default org's series).
pub(crate) async fn spawn_fake_with(
    rows: usize,
    delay: Duration,
) -> Result<(tokio::process::Child, String), Box<dyn std::error::Error>> {
    let mut fake = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "serve-fake",
            &rows.to_string(),
            &delay.as_millis().to_string(),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(fake.stdout.take().ok_or("no stdout")?).lines();
    let url = lines.next_line().await?.ok_or("the fake printed no URL")?;
    Ok((fake, url))
}

/// Runs a child benchmark and returns what it printed: its time, its peak memory (KiB),
/// and, for e2e jobs, the time from its first request.
pub(crate) async fn run_child(
    exe: &std::path::Path,
    args: &[&str],
) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let (t, m, _, _) = run_child_4(exe, args).await?;
    Ok((t, m))
}

/// [`run_child`], with the e2e job's time from its first request and its second job's.
async fn run_child_4(
    exe: &std::path::Path,
    args: &[&str],
) -> Result<(Duration, u64, Duration, Duration), Box<dyn std::error::Error>> {
    let out = tokio::process::Command::new(exe)
        .args(args)
        .output()
        .await?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut parts = text.split_whitespace();
    let micros: u64 = parts.next().ok_or("no time")?.parse()?;
    let kib: u64 = parts.next().ok_or("no memory")?.parse()?;
    let first: u64 = parts.next().map_or(Ok(micros), str::parse)?;
    let next: u64 = parts.next().map_or(Ok(0), str::parse)?;
    Ok((
        Duration::from_micros(micros),
        kib,
        Duration::from_micros(first),
        Duration::from_micros(next),
    ))
}

/// Medians of one variant's runs.
#[derive(Default)]
struct Samples {
    total: Vec<Duration>,
    from_first: Vec<Duration>,
    construct: Vec<Duration>,
    next_job: Vec<Duration>,
    peak: Vec<u64>,
}

impl Samples {
    fn medians(&mut self) -> (Duration, Duration, u64, Duration, Duration) {
        (
            median(&mut self.total),
            median(&mut self.from_first),
            median_u64(&mut self.peak),
            median(&mut self.construct),
            median(&mut self.next_job),
        )
    }
}

pub async fn run() -> crate::Result {
    let exe = std::env::current_exe()?;
    for rows in [1_000usize, 100_000] {
        let (mut fake, url) = spawn_fake(rows).await?;
        let mut samples: [Samples; 3] = Default::default();
        let variants = ["sdk", "floor", "raw"];
        let rows_arg = rows.to_string();
        // One warm-up round, then rounds in rotating order.
        for run in 0..=RUNS {
            for k in 0..variants.len() {
                let i = (k + run) % variants.len();
                let (t, m, f, n) =
                    run_child_4(&exe, &["job", variants[i], &url, &rows_arg]).await?;
                if run > 0 {
                    samples[i].next_job.push(n);
                    samples[i].total.push(t);
                    samples[i].peak.push(m);
                    samples[i].from_first.push(f);
                    samples[i].construct.push(t.saturating_sub(f));
                }
            }
        }
        fake.kill().await?;
        let [sdk, floor, raw] = samples.each_mut().map(Samples::medians);
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "e2e: {rows} rows, client built: usage-ext {:.2} ms / {:.1} MiB, reqwest floor {:.2} ms / {:.1} MiB, raw floor {:.2} ms / {:.1} MiB; \
             time vs reqwest {:.3}, vs raw {:.3}; memory vs reqwest {:.3}, vs raw {:.3}; median of {RUNS}",
            ms(sdk.1),
            sdk.2 as f64 / 1024.0,
            ms(floor.1),
            floor.2 as f64 / 1024.0,
            ms(raw.1),
            raw.2 as f64 / 1024.0,
            ratio(sdk.1, floor.1),
            ratio(sdk.1, raw.1),
            sdk.2 as f64 / floor.2 as f64,
            sdk.2 as f64 / raw.2 as f64,
        );
        println!(
            "e2e: {rows} rows, with client construction: usage-ext {:.2} ms, reqwest floor {:.2} ms, raw floor {:.2} ms; \
             construction: usage-ext {:.2} ms, reqwest {:.2} ms",
            ms(sdk.0),
            ms(floor.0),
            ms(raw.0),
            ms(sdk.3),
            ms(floor.3),
        );
        println!(
            "e2e: {rows} rows, the next job in the same process (client, connection and token reused): \
             usage-ext {:.2} ms, reqwest floor {:.2} ms, raw floor {:.2} ms; vs reqwest {:.3}, vs raw {:.3}",
            ms(sdk.4),
            ms(floor.4),
            ms(raw.4),
            ratio(sdk.4, floor.4),
            ratio(sdk.4, raw.4),
        );
    }
    Ok(())
}

/// Client construction on its own: the first client of a process, then nine more; for a
/// region (https, TLS configured) and for a loopback fake (plain http).
pub fn construction() -> crate::Result {
    let config = FakeConfig::default();
    let build = |https: bool| -> Result<Duration, Box<dyn std::error::Error>> {
        let builder = Client::builder()
            .client_credentials(config.client_id.clone(), config.client_secret.clone());
        let builder = if https {
            builder.region(usage_client::Region::EuWest1)
        } else {
            builder.base_url("http://127.0.0.1:9")
        };
        let t = Instant::now();
        let client = builder.build()?;
        let elapsed = t.elapsed();
        drop(client);
        Ok(elapsed)
    };
    let (mut https, mut http, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        https.push(build(true)?);
        http.push(build(false)?);
        let t = Instant::now();
        drop(reqwest::Client::new());
        plain.push(t.elapsed());
    }
    let (check0, check) = first_certificate_check()?;
    println!(
        "first https certificate check of the process (reads the system's certificates, once): {:.2} ms; \
         later checks {:.2} ms",
        ms(check0),
        ms(check)
    );
    let first_then = |v: &mut Vec<Duration>| (ms(v[0]), ms(median(&mut v[1..].to_vec())));
    let (hs0, hs) = first_then(&mut https);
    let (h0, h) = first_then(&mut http);
    let (p0, p) = first_then(&mut plain);
    println!(
        "construction: usage-client https (a region) first {hs0:.2} ms, then median {hs:.2} ms; \
         plain http (loopback) first {h0:.2} ms, then {h:.2} ms; reqwest::Client::new() first {p0:.2} ms, then {p:.2} ms"
    );
    Ok(())
}

/// What usage-client's deferred TLS set-up (`tls.rs`) moves to the first https handshake
/// of a process: building the platform verifier (which reads the system's certificates)
/// and its first check, against a later check. Timed on a self-signed certificate, which
/// every check refuses; no server is needed.
fn first_certificate_check() -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    use base64::Engine as _;
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    const SELF_SIGNED: &str = include_str!("../fixtures/leaf.pem");
    let body: String = SELF_SIGNED
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let cert = CertificateDer::from(base64::engine::general_purpose::STANDARD.decode(body)?);
    let name = ServerName::try_from("localhost")?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let refused = |verifier: &rustls_platform_verifier::Verifier| {
        verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .is_err()
    };
    let t = Instant::now();
    let verifier = rustls_platform_verifier::Verifier::new(provider)?;
    let first_refused = refused(&verifier);
    let first = t.elapsed();
    let mut later = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        if !refused(&verifier) {
            return Err("a self-signed certificate was accepted".into());
        }
        later.push(t.elapsed());
    }
    if !first_refused {
        return Err("a self-signed certificate was accepted".into());
    }
    Ok((first, median(&mut later)))
}

/// `n` jobs in one process with one client, for a profiler (`perf record`, callgrind):
/// where the time of a job goes once the client is built.
pub async fn job_loop(variant: &str, url: &str, n: &str) -> crate::Result {
    let n: usize = n.parse()?;
    let config = FakeConfig::default();
    let query = serde_json::from_value::<ApiUsageOrganizationQuery>(every_series_query())?;
    let started = Instant::now();
    let mut rows = 0;
    match variant {
        "sdk" => {
            let queries = sdk_queries(url, config)?;
            for _ in 0..n {
                rows += queries.organization_usage(&query).await?.results.len();
            }
        }
        "raw" => {
            for _ in 0..n {
                rows += raw_job(url, &config)?;
            }
        }
        other => return Err(format!("unknown variant {other}").into()),
    }
    println!(
        "{n} jobs, {rows} rows, {:.2} ms a job",
        ms(started.elapsed()) / n as f64
    );
    Ok(())
}
