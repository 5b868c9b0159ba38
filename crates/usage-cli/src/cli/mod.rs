//! The command line: what each command and flag means, in clap's derive form.

pub(crate) mod resolve;

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use usage_ext::models::{
    ClientGroupBy, Granularity, HttpMethod, JobMetric, Metric, OrganizationGroupBy,
    OrganizationJobGroupBy, SortOrder, UsageQuerySortBy,
};

use crate::analysis::allowance::PeriodArg;
use crate::analysis::rules::Per;
use crate::config::Login;
pub use crate::render::format::Format;

const AFTER_HELP: &str = "\
Examples:
  genesys-usage report --demo                     try it on the built-in fake, offline
  genesys-usage report --since 30d --top 3        which OAuth clients get 429s, last 30 days
  genesys-usage jobs --since 7d --group-by OauthClientId,TemplateUri --format csv -o usage.csv
  genesys-usage client 4c4e8a4a-... summary --days 14
  genesys-usage resume 9b2f...                    wait again for a query submitted earlier
  genesys-usage sync --to usage-history           keep the daily usage as Parquet files
  genesys-usage report --from usage-history       the report from the kept history, no request
  genesys-usage check --max-429-share 5%          exit 5 when a client's 429 share is over 5 %
  genesys-usage serve                             Prometheus metrics on 127.0.0.1:9464/metrics
  genesys-usage allowance --licenses cx3=250      the period's requests against the allocation
  genesys-usage limits                            the org's rate limits, raised or not, and requests
  genesys-usage events --since 1d                 the operational events (limits nearly reached)
  genesys-usage evidence --client 1a2b... -o case.html   one client's case for a support ticket

Configuration (environment):
  GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET   client credentials
  GENESYSCLOUD_ACCESS_TOKEN                                      or a ready token
  GENESYSCLOUD_REGION                                            e.g. us_east_1 (see `regions`)
  RUST_LOG                                                       e.g. usage_client=debug
The secret is read from the environment or from stdin (--client-secret-stdin), never from a flag.

Exit codes:
  0    success
  1    API or network error (with --from: a day file that does not read)
  2    usage or configuration error (nothing was sent; with --from: nothing read)
  3    the query ended Failed or Cancelled on the service side
  4    the wait timed out (--max-wait); the query may still finish: resume it
  5    check: a rule is breached (the breaches are on stdout)
  6    check: nothing judged is breached, but a rule could not be judged (its data could
       not be read: which rule and why are on stdout); a gate never passes on missing data
  7    not found: evidence's OAuth client has no usage in the window, limits' namespace is
       not the org's (the lookup was sent, nothing else)
  130  interrupted (Ctrl-C; for sync, SIGTERM too); the id to resume is printed
       (serve ends 0 on SIGTERM, a service manager's stop)";

/// Which OAuth client, on which endpoints, is using up your Genesys Cloud org's API rate
/// limit: the Usage API from the command line.
#[derive(Debug, Parser)]
#[command(name = "genesys-usage", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Run against the built-in fake service (usage-fake, offline) instead of an org. The
    /// numbers are generated, and stderr says so.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Output format [default: table, or the --output file's extension: .csv, .json, .ndjson]
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// CSV cells exactly as the API sent them. By default a cell a spreadsheet would run as
    /// a formula (starting with =, +, -, @, a tab or a carriage return, and not a number)
    /// gets a leading ' so that it shows as text.
    #[arg(long, global = true)]
    pub exact_csv: bool,
    /// Write the data to FILE instead of stdout.
    #[arg(long, short, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No progress or notes on stderr; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print every poll on stderr (the poll trace).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Region of your org (overrides GENESYSCLOUD_REGION), e.g. eu_west_1; see `regions`.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// OAuth client id (overrides GENESYSCLOUD_OAUTHCLIENT_ID).
    #[arg(long, global = true)]
    pub client_id: Option<String>,
    /// Read the OAuth client secret from the first line of stdin.
    #[arg(long, global = true)]
    pub client_secret_stdin: bool,
    /// The `gc` CLI's profile to use (a table of ~/.gc/config.toml); flags and the
    /// GENESYSCLOUD_* variables win over its keys. The DEFAULT profile is used when no
    /// profile is named and no such variable is set. `serve` takes it more than once: one
    /// exporter for several orgs, each series labelled with its profile.
    #[arg(long, short = 'p', global = true, value_name = "NAME")]
    pub profile: Vec<String>,
    /// The `gc` configuration file to read profiles from, instead of ~/.gc/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub gc_config: Option<std::path::PathBuf>,
    /// API and login base URL instead of the region's (a gateway, or a test server; plain
    /// http is accepted for loopback hosts only).
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// Give up waiting for a query after this long (exit code 4), e.g. 90s, 15m.
    #[arg(long, global = true, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub max_wait: Duration,
}

impl Global {
    /// How to reach the API, as these flags say it.
    pub fn login(&self) -> Login {
        Login {
            demo: self.demo,
            client_id: self.client_id.clone(),
            client_secret_stdin: self.client_secret_stdin,
            region: self.region.clone(),
            base_url: self.base_url.clone(),
            profile: self.profile.first().cloned(),
            gc_config: self.gc_config.clone(),
            max_wait: self.max_wait,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// The aggregates query jobs (paged; the successor API; intervals up to 90 days, at
    /// most a year back).
    Jobs,
    /// The original usage query (one answer with every row).
    Query,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per OAuth client: requests, 429s and their share, with the endpoints that get the
    /// most 429s. Sorted by 429s, then requests.
    Report(ReportArgs),
    /// Organization usage rows (postUsageQuery), grouped and bucketed as asked.
    Query(QueryArgs),
    /// One OAuth client's usage: `query` or `summary`.
    Client {
        /// The OAuth client's id (of the client whose usage to see; not --client-id, the
        /// one the tool logs in as).
        #[arg(value_name = "CLIENT_ID")]
        client: String,
        #[command(subcommand)]
        what: ClientCommand,
    },
    /// Organization usage through the aggregates query jobs, streamed page by page.
    Jobs(JobsArgs),
    /// Wait for a query or job submitted earlier (after Ctrl-C or a timeout), then print it.
    Resume {
        /// The executionId (query) or jobId (aggregates job).
        id: String,
        /// The OAuth client whose query or job it is.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client: Option<String>,
    },
    /// Keep the org's daily usage as a Parquet dataset (a directory or S3), incrementally.
    Sync(SyncArgs),
    /// Check the window against rules (429 share, 429s, growth); exit 5 when one is broken.
    Check(CheckArgs),
    /// Serve the org's usage as Prometheus metrics on /metrics, refreshed on a schedule.
    Serve(ServeArgs),
    /// Watch the operational events live: each new one as it comes (a line on a terminal,
    /// NDJSON when piped), polled every minute; Ctrl-C ends it.
    Watch(WatchArgs),
    /// The billing period's requests against the fair-use allocation, projected to its end.
    Allowance(AllowanceArgs),
    /// The org's limits in a namespace, the effective value beside the default (raised ones
    /// marked), then the org's requests to raise a limit over the last year.
    Limits(LimitsArgs),
    /// The operational events (a limit nearly reached, ...), streamed page by page.
    Events(EventsArgs),
    /// One OAuth client's case for a support ticket (or its vendor): requests and 429s by
    /// day, near-limit hours, endpoints, the limit with the org's value and default, the
    /// requests to raise it, its events, and the facts in one paragraph. `-o case.html`.
    Evidence(EvidenceArgs),
    /// The Genesys Cloud regions, with their API hosts.
    Regions,
    /// A shell completion script on stdout, e.g. `genesys-usage completions bash >
    /// /etc/bash_completion.d/genesys-usage`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on stdout, every command included: `genesys-usage man > genesys-usage.1`.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// The client's usage rows (postOauthClientUsageQuery).
    Query(ClientQueryArgs),
    /// The client's daily usage per endpoint over the last days (getOauthClientUsageSummary).
    Summary {
        /// Days to look back (the service's default is 7).
        #[arg(long)]
        days: Option<u32>,
    },
}

/// `--from`: a dataset read instead of the Usage API.
#[derive(Debug, Clone, Args)]
pub struct Dataset {
    /// Read a dataset `sync` wrote (a directory or s3://bucket/prefix) instead of the Usage
    /// API: no request is sent, and the window may reach as far back as the dataset holds.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub from: Option<String>,
}

/// `--concurrency`: how many jobs at once.
#[derive(Debug, Clone, Args)]
pub struct Concurrency {
    /// Jobs submitted and waited for at once, when the window spans more than one job (a
    /// job covers at most 90 days).
    #[arg(long, value_name = "N", default_value = "2", value_parser = parse_concurrency)]
    pub concurrency: std::num::NonZeroUsize,
}

/// `--exclude-client`: OAuth clients left out.
#[derive(Debug, Clone, Args)]
pub struct ExcludeClients {
    /// Leave out these OAuth clients (ids, repeat or comma-separate), e.g. one known not to
    /// be billed.
    #[arg(long = "exclude-client", value_name = "ID", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

/// The time window of a query: `--since` or `--interval`.
#[derive(Debug, Clone, Args)]
pub struct Window {
    /// How far back, from today: 7d, 2w, 30d [default: 7d]
    #[arg(long, value_name = "AGE", conflicts_with = "interval", value_parser = parse_age)]
    pub since: Option<u32>,
    /// An ISO-8601 interval START/END: dates are whole days, both ends included
    /// (2026-10-01/2026-10-31 and 2026-10/2026-10 are October); date-times are instants,
    /// the end excluded (2026-10-01T00:00:00Z/2026-11-01T00:00:00Z is October too)
    #[arg(long, value_name = "START/END")]
    pub interval: Option<String>,
}

#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// The limits' namespace, e.g. platform.api (the rate limits), auth.api.
    #[arg(long, default_value = "platform.api", value_name = "NAMESPACE")]
    pub namespace: String,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// The OAuth client's id.
    #[arg(long = "client", value_name = "CLIENT_ID")]
    pub client: String,
    /// How far back, from today: 7d, 2w, 30d [default: 30d]
    #[arg(long, value_name = "AGE", conflicts_with = "interval", value_parser = parse_age)]
    pub since: Option<u32>,
    /// An ISO-8601 interval START/END: dates are whole days, both ends included
    /// (2026-10-01/2026-10-31 and 2026-10/2026-10 are October); date-times are instants,
    /// the end excluded (2026-10-01T00:00:00Z/2026-11-01T00:00:00Z is October too)
    #[arg(long, value_name = "START/END")]
    pub interval: Option<String>,
    #[command(flatten)]
    pub dataset: Dataset,
    #[command(flatten)]
    pub jobs: Concurrency,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub window: Window,
    /// (`--from`: the events `sync` kept, a year where the service keeps days.)
    #[command(flatten)]
    pub dataset: Dataset,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// How often to ask for new events (one request a poll, more when a page is full),
    /// e.g. 60s, 5m. The org's rate limit is shared with every integration: 60 a minute
    /// costs 60 requests an hour.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub every: Duration,
    /// How far back each poll reaches: the events of the last hour are shown at the start,
    /// and one created earlier that the service shows late is still caught within it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub lookback: Duration,
    #[command(flatten)]
    pub alerts: LiveAlertArgs,
}

/// The live feed's alerts (`watch`, `serve`): where they go, how often, and where the ones
/// sent are remembered.
#[derive(Debug, Args)]
pub struct LiveAlertArgs {
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// At most one alert per client and limit this often (Okta's practice is an hour).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub notify_every: Duration,
    /// Where the alerts sent are remembered across a restart; by default
    /// $XDG_STATE_HOME/genesys-usage/COMMAND-alerts.json (~/.local/state/… without it).
    #[arg(long, value_name = "FILE")]
    pub notify_state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub window: Window,
    #[command(flatten)]
    pub dataset: Dataset,

    /// Endpoints shown per OAuth client.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Which generation of the API to ask.
    #[arg(long, value_enum, default_value_t = Api::Jobs)]
    pub api: Api,
    /// Draw the daily 429s with ASCII marks (`_.:-=+*#`) instead of `▁▂▃▄▅▆▇█`; chosen on
    /// its own when the locale is not UTF-8.
    #[arg(long)]
    pub ascii: bool,
    #[command(flatten)]
    pub jobs: Concurrency,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub window: Window,
    /// Dimensions to group rows by, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = one_of::<OrganizationGroupBy>(OrganizationGroupBy::VALUES))]
    pub group_by: Vec<OrganizationGroupBy>,
    #[command(flatten)]
    pub shape: QueryShape,
}

/// What the original queries count, and in which date buckets.
#[derive(Debug, Args)]
pub struct QueryShape {
    /// Counters to return, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_parser = one_of::<Metric>(Metric::VALUES))]
    pub metrics: Vec<Metric>,
    /// Date buckets.
    #[arg(long, value_parser = one_of::<Granularity>(Granularity::VALUES))]
    pub granularity: Option<Granularity>,
}

#[derive(Debug, Args)]
pub struct ClientQueryArgs {
    #[command(flatten)]
    pub window: Window,
    /// Dimensions to group rows by, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = one_of::<ClientGroupBy>(ClientGroupBy::VALUES))]
    pub group_by: Vec<ClientGroupBy>,
    #[command(flatten)]
    pub shape: QueryShape,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub window: Window,
    /// (`--from`: the dataset's daily rows of the window, in the shape it was synced with;
    /// the flags below shape the API's jobs only.)
    #[command(flatten)]
    pub dataset: Dataset,
    /// Dimensions to group rows by, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = one_of::<OrganizationJobGroupBy>(OrganizationJobGroupBy::VALUES), conflicts_with = "from")]
    pub group_by: Vec<OrganizationJobGroupBy>,
    /// Counters to return, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_parser = one_of::<JobMetric>(JobMetric::VALUES), conflicts_with = "from")]
    pub metrics: Vec<JobMetric>,
    /// Date buckets.
    #[arg(long, value_parser = one_of::<Granularity>(Granularity::VALUES), conflicts_with = "from")]
    pub granularity: Option<Granularity>,
    #[command(flatten)]
    pub filters: JobFilters,
    /// Sort by a row field, `field` or `field:desc` (repeatable), e.g. requestCount:desc.
    #[arg(long, value_name = "FIELD[:desc]", value_parser = parse_sort_by, conflicts_with = "from")]
    pub sort_by: Vec<UsageQuerySortBy>,
    #[command(flatten)]
    pub paging: JobPaging,
}

/// What an aggregates query job keeps of the org's rows (all when none is given).
#[derive(Debug, Args)]
pub struct JobFilters {
    /// Only these templateUris (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub template_uri: Vec<String>,
    /// Only these HTTP methods.
    #[arg(long, value_delimiter = ',', value_parser = one_of::<HttpMethod>(HttpMethod::VALUES))]
    pub http_method: Vec<HttpMethod>,
    /// Only these platforms.
    #[arg(long, value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Only these users.
    #[arg(long, value_delimiter = ',')]
    pub user_id: Vec<String>,
    /// Only these OAuth clients.
    #[arg(long, value_delimiter = ',')]
    pub oauth_client_id: Vec<String>,
}

/// How a window's jobs are fetched.
#[derive(Debug, Args)]
pub struct JobPaging {
    /// Rows per page (1 to 1000).
    #[arg(long, default_value_t = usage_ext::MAX_PAGE_SIZE, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,
    #[command(flatten)]
    pub jobs: Concurrency,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// (`--from`: each refresh reads the dataset's last 7 days.)
    #[command(flatten)]
    pub dataset: Dataset,

    /// Where to listen: loopback unless another address is given.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// How often to refresh the data from the Usage API (give or take a tenth), e.g. 1h,
    /// 30m; never on a scrape.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub refresh: Duration,
    /// How often to poll the operational events for the live counter
    /// (genesys_usage_operational_events_total), e.g. 60s: one request a poll.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub events_every: Duration,
    /// No live counter: the daily gauges alone (no request a minute).
    #[arg(long)]
    pub no_events: bool,
    /// The live counter's alerts (`--notify URL`): one per client and limit every
    /// --notify-every, as `watch` sends them.
    #[command(flatten)]
    pub alerts: LiveAlertArgs,
    /// Endpoints per OAuth client with series of their own; the rest are summed as
    /// template_uri="other".
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub top_endpoints: usize,
    /// The org's allocation (see `allowance`): adds the billing period's gauges, the
    /// allocation, the requests so far and the projection, org-wide and per client.
    #[command(flatten)]
    pub allocation: AllocationArgs,
    #[command(flatten)]
    pub exclude: ExcludeClients,
}

/// The org's monthly fair-use allocation and its billing period, as `allowance`, `check
/// --max-allocation-share` and `serve` take them.
#[derive(Debug, Args)]
pub struct AllocationArgs {
    /// Billable users per license, e.g. cx3=250,cx1=40,cx3-concurrent=12 (the names of the
    /// allowance table: see --allowances).
    #[arg(long, value_name = "NAME=COUNT,...", conflicts_with = "allocation")]
    pub licenses: Option<String>,
    /// The org's monthly allocation in requests, when it is known (instead of --licenses).
    #[arg(long, value_name = "REQUESTS")]
    pub allocation: Option<u64>,
    /// An allowance table of your own (TOML, the layout of the shipped
    /// crates/usage-cli/data/allowances.toml), when Genesys's numbers or your contract differ.
    #[arg(long, value_name = "FILE", requires = "licenses")]
    pub allowances: Option<PathBuf>,
    /// The day of the month the org's billing period starts (its activation day), 1 to 28.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=28))]
    pub billing_day: u32,
}

impl AllocationArgs {
    /// Whether an allocation is given (the licenses or the number).
    pub fn given(&self) -> bool {
        self.licenses.is_some() || self.allocation.is_some()
    }
}

#[derive(Debug, Args)]
pub struct AllowanceArgs {
    #[command(flatten)]
    pub allocation: AllocationArgs,
    /// The period running, or the last complete one.
    #[arg(long, value_enum, default_value = "current")]
    pub period: PeriodArg,
    /// What the command would have said on this day (YYYY-MM-DD), from the complete days
    /// before it.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub exclude: ExcludeClients,
    #[command(flatten)]
    pub dataset: Dataset,
    #[command(flatten)]
    pub jobs: Concurrency,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub window: Window,
    #[command(flatten)]
    pub dataset: Dataset,

    /// Rules from a TOML file (`[[rule]]` tables: max_429_share, max_429, max_growth, per,
    /// clients, exclude; a `[limits]` table: max_hours, clients, exclude), besides those
    /// given as flags.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The largest 429 share allowed, e.g. 5%.
    #[arg(long = "max-429-share", value_name = "PERCENT")]
    pub max_429_share: Option<String>,
    /// The most 429s allowed in the window.
    #[arg(long = "max-429", value_name = "N", allow_hyphen_values = true)]
    pub max_429: Option<i64>,
    /// The largest growth of requests allowed against the window of the same length before,
    /// e.g. 50%.
    #[arg(long = "max-growth", value_name = "PERCENT")]
    pub max_growth: Option<String>,
    /// The most hours a client may spend near a rate limit in the window (hours with
    /// near-limit records, any limit): the breach names the limit and its value. Judged per
    /// OAuth client, at one request more (the rate-limit aggregates).
    #[arg(long = "max-limit-hours", value_name = "N", allow_hyphen_values = true)]
    pub max_limit_hours: Option<i64>,
    /// Judge the flags' rules per OAuth client or per endpoint of a client.
    #[arg(long, value_enum, default_value = "client")]
    pub per: Per,
    /// Only these OAuth clients (ids, repeat or comma-separate).
    #[arg(long = "client", value_name = "ID", value_delimiter = ',')]
    pub clients: Vec<String>,
    #[command(flatten)]
    pub exclude: ExcludeClients,
    /// The largest share of the billing period's fair-use allocation allowed, e.g. 80%: the
    /// share projected at the period's end (so far, with --to-date). Needs --licenses or
    /// --allocation, as `allowance` takes them.
    #[arg(long = "max-allocation-share", value_name = "PERCENT")]
    pub max_allocation_share: Option<String>,
    /// Judge --max-allocation-share on the requests so far, not on the projection.
    #[arg(long, requires = "max_allocation_share")]
    pub to_date: bool,
    /// The allocation for --max-allocation-share (or the rules file's allocation table).
    #[command(flatten)]
    pub allocation: AllocationArgs,
    #[command(flatten)]
    pub jobs: Concurrency,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// `--notify`: where alerts go.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// POST alerts to this webhook (https, or http to this machine): `check` one message
    /// per run with the breaches and the rules not judged (none when every rule passed),
    /// `watch` one per client and limit every --notify-every. The URL is a secret: it is
    /// never printed, only its host. Retried on 5xx and 429 (after its Retry-After), 4 times
    /// at most; a failed delivery is said on stderr and changes no exit code. Without the
    /// flag, GENESYS_USAGE_NOTIFY_URL (a URL in a command line is in every `ps`).
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// The body the webhook takes: generic JSON, Slack's incoming webhooks, or a Microsoft
    /// Teams workflow. By default from the URL's host (hooks.slack.com is Slack's;
    /// *.logic.azure.com, *.webhook.office.com and Power Automate's are Teams'), else generic.
    #[arg(long, value_enum, value_name = "SHAPE")]
    pub notify_format: Option<crate::notify::Shape>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Where the dataset lives: a directory, or s3://bucket/prefix (configured by the
    /// standard AWS variables).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
    /// How far back the first run reaches (at most a year; 90d by default). On a later
    /// run, pull again from that far back.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub since: Option<u32>,
    /// Days before the last complete one pulled again on every run: the data lags a day and
    /// settles around midnight UTC. 3d by default, or the whole window when `--since` is
    /// shorter; an explicit one longer than `--since` is refused.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub repull: Option<u32>,
    /// What a row is: the group-by set.
    #[arg(long, value_delimiter = ',', default_value = "OauthClientId,TemplateUri,HttpMethod", value_parser = one_of::<OrganizationJobGroupBy>(OrganizationJobGroupBy::VALUES))]
    pub group_by: Vec<OrganizationJobGroupBy>,
    #[command(flatten)]
    pub filters: JobFilters,
    #[command(flatten)]
    pub paging: JobPaging,
}

/// One of the model's `values`, parsed into its enum (`--help` lists them).
fn one_of<T>(values: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: for<'a> From<&'a str> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(values).map(|s| T::from(s.as_str()))
}

/// `--sort-by FIELD[:asc|:desc]`, as the service's `sortBy`.
fn parse_sort_by(text: &str) -> Result<UsageQuerySortBy, String> {
    let (field, order) = match text.rsplit_once(':') {
        Some((field, "desc")) => (field, SortOrder::Desc),
        Some((field, "asc")) => (field, SortOrder::Asc),
        Some(_) => return Err(format!("{text:?}: use FIELD, FIELD:asc or FIELD:desc")),
        None => (text, SortOrder::Asc),
    };
    Ok(UsageQuerySortBy {
        field_name: Some(field.to_string()),
        order: Some(order),
    })
}

/// `7d`, `2w`: a number of days.
fn parse_age(text: &str) -> Result<u32, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u32 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 7d or 2w"))?;
    let days = match unit {
        "d" => n,
        "w" => n.checked_mul(7).ok_or("too long")?,
        _ => {
            return Err(format!(
                "{text:?}: use d (days) or w (weeks), e.g. 7d or 2w"
            ));
        }
    };
    if days == 0 {
        return Err("an age of 0 days has no data".into());
    }
    Ok(days)
}

/// 1 to 16 jobs at once: more only spends the org's rate limit faster.
fn parse_concurrency(text: &str) -> Result<std::num::NonZeroUsize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=16) => Ok(std::num::NonZeroUsize::new(n).expect("1 to 16")),
        _ => Err(format!("{text:?}: give 1 to 16 jobs at once")),
    }
}

/// `90s`, `15m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s or 15m"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: use s, m or h, e.g. 90s or 15m")),
    };
    if seconds == 0 {
        return Err("the wait must be longer than 0 s".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_durations() {
        assert_eq!(parse_age("7d"), Ok(7));
        assert_eq!(parse_age("2w"), Ok(14));
        assert!(parse_age("0d").is_err());
        assert!(parse_age("7").is_err());
        assert!(parse_age("7y").is_err());
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
