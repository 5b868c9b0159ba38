#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod cli;
mod config;
mod exit;
mod output;
mod progress;
mod report;

use std::io::{BufRead, BufWriter, Write};
use std::sync::{Arc, Mutex};

use serde_json::json;
use usage_ext::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ClientGroupBy, Granularity, Interval, Metric,
    OrganizationGroupBy, OrganizationPublicApiUsageQueryRequest,
};
use usage_ext::{Execution, Job, Pages, PollPolicy, Region, UsageQueries};
use usage_fake::{FakeConfig, FakeService};

use crate::cli::{Api, Cli, ClientCommand, Command, Format, JobsArgs, Window};
pub use crate::exit::{Failure, code};
use crate::output::{Record, Sink};
use crate::progress::Progress;

/// The fake `--demo` runs against: 120 of the 240 real-looking series of usage-fake's org
/// (5 OAuth clients, 3 users, 16 endpoints), so each client has its own mix of endpoints.
pub fn demo_config() -> FakeConfig {
    FakeConfig {
        rows: 120,
        ..FakeConfig::default()
    }
}

/// What a running command has: the client, where progress and data go, and the id to
/// resume if the user interrupts.
struct Session {
    queries: UsageQueries,
    progress: Progress,
    format: Format,
    output: Option<std::path::PathBuf>,
    /// `resume` arguments for the query or job being waited for.
    pending: Arc<Mutex<Option<String>>>,
    demo: bool,
}

impl Session {
    fn out(&self) -> Result<Box<dyn Write>, Failure> {
        open_output(self.output.as_deref())
    }

    fn submitted(&self, what: &str, id: &str, client: Option<&str>) {
        let resume = match client {
            // The demo's fake stops with this process: nothing outlives it to resume.
            _ if self.demo => {
                format!("{id} (--demo: the fake stopped with the process; run again)")
            }
            Some(c) => format!("genesys-usage resume {id} --client {c}"),
            None => format!("genesys-usage resume {id}"),
        };
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(resume);
        self.progress.note(&format!("Submitted {what} {id}"));
        self.progress.status("submitted");
    }

    fn done(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.progress.clear();
    }

    /// Prints every row of a finished query.
    fn rows<R: Record>(&self, rows: &[R]) -> Result<(), Failure> {
        let mut sink = Sink::<R>::new(self.format, self.out()?)?;
        for row in rows {
            sink.row(row)?;
        }
        sink.finish()?;
        Ok(())
    }

    /// Streams a job's rows page by page: memory holds one page, whatever the format but
    /// the table.
    async fn pages<R>(&self, mut pages: Pages<R>) -> Result<(), Failure>
    where
        R: Record + usage_ext::JobRow,
    {
        let mut sink = Sink::<R>::new(self.format, self.out()?)?;
        while let Some(page) = pages.next_page().await {
            for row in &page? {
                sink.row(row)?;
            }
            self.progress
                .status(&format!("paging · {} rows", sink.count()));
        }
        self.done();
        sink.finish()?;
        Ok(())
    }
}

/// Runs the command line; returns the process's exit code. `vars` is the environment,
/// `stdin` where `--client-secret-stdin` reads from.
pub async fn run(cli: Cli, vars: Vec<(String, String)>, stdin: impl BufRead) -> u8 {
    let pending = Arc::new(Mutex::new(None));
    let result = tokio::select! {
        result = run_command(cli, vars, stdin, pending.clone()) => result,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted {
            resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }),
    };
    match result {
        Ok(()) => 0,
        // The session knows the whole resume command (a client query needs --client).
        Err(Failure::TimedOut { error, .. }) => Failure::TimedOut {
            error,
            resume: pending.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
        .report(),
        Err(failure) => failure.report(),
    }
}

async fn run_command(
    cli: Cli,
    vars: Vec<(String, String)>,
    mut stdin: impl BufRead,
    pending: Arc<Mutex<Option<String>>>,
) -> Result<(), Failure> {
    let global = &cli.global;
    let format = global
        .format
        .or_else(|| {
            let ext = global.output.as_ref()?.extension()?.to_str()?;
            match ext.to_ascii_lowercase().as_str() {
                "csv" => Some(Format::Csv),
                "json" => Some(Format::Json),
                "ndjson" | "jsonl" => Some(Format::Ndjson),
                _ => None,
            }
        })
        .unwrap_or(Format::Table);
    if let Command::Regions = cli.command {
        return regions(format, global.output.as_deref());
    }
    let progress = Progress::new(global.quiet, global.verbose);
    // Kept alive until the end: dropping it stops the fake.
    let mut fake = None;
    let client = if global.demo {
        let service = FakeService::start(demo_config())
            .await
            .map_err(|e| Failure::Api(Box::new(e)))?;
        progress.note(&format!(
            "--demo: running against the built-in usage-fake at {} (offline); the numbers are generated, not your org's.",
            service.base_url()
        ));
        let client = usage_ext::Client::builder()
            .base_url(&service.base_url())
            .client_credentials(service.client_id(), service.client_secret())
            .build()
            .map_err(|e| Failure::Config(e.to_string()))?;
        fake = Some(service);
        client
    } else {
        let secret = if global.client_secret_stdin {
            let mut line = String::new();
            stdin
                .read_line(&mut line)
                .map_err(|e| Failure::Config(format!("--client-secret-stdin: {e}")))?;
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.is_empty() {
                return Err(Failure::Config(
                    "--client-secret-stdin: stdin had no secret on its first line".into(),
                ));
            }
            Some(line)
        } else {
            None
        };
        config::org_client(global, &vars, secret).map_err(|e| Failure::Config(e.0))?
    };
    let policy = PollPolicy::default().with_max_wait(global.max_wait);
    let queries = UsageQueries::new(client)
        .with_policy(policy)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let session = Session {
        queries,
        progress,
        format,
        output: global.output.clone(),
        pending,
        demo: global.demo,
    };
    let result = match cli.command {
        Command::Report(args) => report(&session, &args).await,
        Command::Query(args) => {
            let mut query = ApiUsageOrganizationQuery::new(interval(&args.window)?)
                .with_group_by(
                    args.group_by
                        .iter()
                        .map(|g| OrganizationGroupBy::from(g.as_str())),
                )
                .with_metrics(metrics(&args.shape));
            query.granularity = granularity(&args.shape);
            let execution = session.queries.submit_organization(&query).await?;
            wait_rows(&session, execution, None).await
        }
        Command::Client {
            client: client_id,
            what,
        } => {
            let execution = match what {
                ClientCommand::Query(args) => {
                    let mut query = ApiUsageClientQuery::new(interval(&args.window)?)
                        .with_group_by(
                            args.group_by
                                .iter()
                                .map(|g| ClientGroupBy::from(g.as_str())),
                        )
                        .with_metrics(metrics(&args.shape));
                    query.granularity = granularity(&args.shape);
                    session.queries.submit_client(&client_id, &query).await?
                }
                ClientCommand::Summary { days } => {
                    session
                        .queries
                        .submit_client_summary(&client_id, days)
                        .await?
                }
            };
            wait_rows(&session, execution, Some(&client_id)).await
        }
        Command::Jobs(args) => jobs(&session, &args).await,
        Command::Resume { id, client } => resume(&session, &id, client.as_deref()).await,
        Command::Regions => Ok(()),
    };
    drop(fake);
    result
}

/// The counters an original query asks for, as the models spell them.
fn metrics(shape: &cli::QueryShape) -> Vec<Metric> {
    shape
        .metrics
        .iter()
        .map(|m| Metric::from(m.as_str()))
        .collect()
}

fn granularity(shape: &cli::QueryShape) -> Option<Granularity> {
    shape.granularity.as_deref().map(Granularity::from)
}

/// The interval a window names: `--interval` as given (checked), or the last `--since`
/// days (7 by default) up to today.
fn interval(window: &Window) -> Result<String, Failure> {
    match (&window.interval, window.since) {
        (Some(text), _) => {
            Interval::parse(text).map_err(|e| Failure::Usage(format!("--interval: {e}")))?;
            Ok(text.clone())
        }
        (None, since) => {
            let today = chrono::Utc::now().date_naive();
            let start = today
                .checked_sub_days(chrono::Days::new(u64::from(since.unwrap_or(7))))
                .ok_or_else(|| Failure::Usage("--since reaches before the calendar".into()))?;
            Ok(format!("{start}/{today}"))
        }
    }
}

async fn wait_rows(
    session: &Session,
    execution: Execution,
    client: Option<&str>,
) -> Result<(), Failure> {
    session.submitted("usage query", &execution.execution_id, client);
    let result = execution
        .wait_with(&session.queries, |e| session.progress.poll(e))
        .await?;
    session.done();
    session.rows(&result.results)
}

fn job_request(body: serde_json::Value) -> Result<OrganizationPublicApiUsageQueryRequest, Failure> {
    serde_json::from_value(body).map_err(|e| Failure::Usage(e.to_string()))
}

async fn jobs(session: &Session, args: &JobsArgs) -> Result<(), Failure> {
    let mut sort_by = Vec::new();
    for s in &args.sort_by {
        let (field, order) = match s.rsplit_once(':') {
            Some((field, "desc")) => (field, "Desc"),
            Some((field, "asc")) => (field, "Asc"),
            Some(_) => {
                return Err(Failure::Usage(format!(
                    "--sort-by {s:?}: use FIELD, FIELD:asc or FIELD:desc"
                )));
            }
            None => (s.as_str(), "Asc"),
        };
        sort_by.push(json!({"fieldName": field, "order": order}));
    }
    let request = job_request(json!({
        "interval": interval(&args.window)?,
        "groupBy": args.group_by,
        "metrics": args.metrics,
        "granularity": args.granularity,
        "templateUris": args.template_uri,
        "httpMethods": args.http_method,
        "platforms": args.platform,
        "userIds": args.user_id,
        "oauthClientIds": args.oauth_client_id,
        "sortBy": sort_by,
    }))?;
    let queries = session
        .queries
        .clone()
        .with_page_size(args.page_size)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let job = queries.submit_aggregate(&request).await?;
    session.submitted("aggregates query job", &job.job_id, None);
    let pages = job
        .wait_with(&queries, |e| session.progress.poll(e))
        .await?;
    session.pages(pages).await
}

async fn report(session: &Session, args: &cli::ReportArgs) -> Result<(), Failure> {
    let interval = interval(&args.window)?;
    let mut tally = report::Tally::default();
    let api = match args.api {
        Api::Query => {
            let query = ApiUsageOrganizationQuery::new(interval.clone())
                .with_group_by([
                    OrganizationGroupBy::OAuthClientId,
                    OrganizationGroupBy::TemplateUri,
                    OrganizationGroupBy::HttpMethod,
                ])
                .with_metrics([Metric::Requests, Metric::Status429]);
            let execution = session.queries.submit_organization(&query).await?;
            session.submitted("usage query", &execution.execution_id, None);
            let result = execution
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await?;
            for row in &result.results {
                tally.add(
                    row.client_id(),
                    row.client_name(),
                    row.http_method.as_deref().unwrap_or_default(),
                    row.template_uri.as_deref().unwrap_or_default(),
                    row.requests.unwrap_or(0),
                    row.status429.unwrap_or(0),
                );
            }
            "usage query"
        }
        Api::Jobs => {
            let request = job_request(json!({
                "interval": interval,
                "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"],
                "metrics": ["Requests", "Status429"],
            }))?;
            let job = session.queries.submit_aggregate(&request).await?;
            session.submitted("aggregates query job", &job.job_id, None);
            let mut pages = job
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await?;
            let mut rows = 0u64;
            while let Some(page) = pages.next_page().await {
                for row in page? {
                    let client = row.oauth_client.as_ref();
                    tally.add(
                        client.and_then(|c| c.id.as_deref()).unwrap_or_default(),
                        client.and_then(|c| c.name.as_deref()).unwrap_or_default(),
                        row.http_method
                            .as_ref()
                            .map(|m| m.as_str())
                            .unwrap_or_default(),
                        row.template_uri.as_deref().unwrap_or_default(),
                        row.request_count.unwrap_or(0),
                        row.status429.unwrap_or(0),
                    );
                    rows += 1;
                }
                session.progress.status(&format!("paging · {rows} rows"));
            }
            "aggregates query jobs"
        }
    };
    session.done();
    let clients = tally.finish(args.top);
    let heading = format!("Usage by OAuth client, {interval} ({api}), by 429s then requests");
    let mut out = session.out()?;
    report::write(&mut out, session.format, &heading, &clients)?;
    out.flush()?;
    Ok(())
}

async fn resume(session: &Session, id: &str, client: Option<&str>) -> Result<(), Failure> {
    let not_found = |e: &usage_ext::Error| match e {
        usage_ext::Error::Poll { source, .. } => source.status() == Some(404),
        _ => false,
    };
    session.submitted("(resumed)", id, client);
    let execution = match client {
        Some(c) => Execution::client(c, id),
        None => Execution::organization(id),
    };
    match execution
        .wait_with(&session.queries, |e| session.progress.poll(e))
        .await
    {
        Ok(result) => {
            session.done();
            return session.rows(&result.results);
        }
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    // Not a query the service knows: an aggregates query job, then.
    let job_missing = |e: usage_ext::Error| {
        if not_found(&e) {
            Failure::Api(format!("the service knows no usage query or aggregates query job {id}{} (results expire; submit the query again)", client.map(|c| format!(" of OAuth client {c}")).unwrap_or_default()).into())
        } else {
            e.into()
        }
    };
    match client {
        Some(c) => {
            let pages = Job::client(c, id)
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await
                .map_err(job_missing)?;
            session.pages(pages).await
        }
        None => {
            let pages = Job::organization(id)
                .wait_with(&session.queries, |e| session.progress.poll(e))
                .await
                .map_err(job_missing)?;
            session.pages(pages).await
        }
    }
}

#[derive(serde::Serialize)]
struct RegionRow {
    name: &'static str,
    domain: &'static str,
    #[serde(rename = "apiBaseUrl")]
    api_base_url: String,
}

impl Record for RegionRow {
    fn columns() -> &'static [&'static str] {
        &["name", "domain", "apiBaseUrl"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.to_string(),
            self.domain.to_string(),
            self.api_base_url.clone(),
        ]
    }
}

/// Where data goes: the `--output` file, or stdout; buffered either way.
fn open_output(path: Option<&std::path::Path>) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path).map_err(
            |e| Failure::Usage(format!("cannot write {}: {e}", path.display())),
        )?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

fn regions(format: Format, output: Option<&std::path::Path>) -> Result<(), Failure> {
    let mut sink = Sink::<RegionRow>::new(format, open_output(output)?)?;
    for region in Region::ALL {
        sink.row(&RegionRow {
            name: region.name(),
            domain: region.domain(),
            api_base_url: region.api_base_url(),
        })?;
    }
    sink.finish()?;
    Ok(())
}
