//! One module per command (cargo's `commands/` layout). Each declares what it takes and
//! needs ([`Declared`]: its formats, the API or a source of rows or nothing, whether it
//! handles signals itself) and resolves its flags into a plan before anything is opened or
//! sent (ripgrep's `LowArgs` -> `HiArgs`); [`run`] reads the declarations, builds what the
//! plan needs and nothing more, and hands it over. A plan that reads rows gets a
//! [`Source`]; one that reads a dataset gets no client at all.

pub mod allowance;
pub mod check;
mod client;
mod docs;
mod jobs;
mod query;
mod regions;
pub mod report;
mod resume;
pub mod serve;
pub mod sync;

use std::io::BufRead;

use crate::cli::{Command, Format, Global};
use crate::config::Login;
use crate::exit::Failure;
use crate::progress::Pending;
use crate::session::Session;
use crate::source::Source;
use crate::source::api::Api;

/// What a command declares of itself, read by the dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    /// The formats it writes (the table, CSV, JSON and NDJSON, and more for some).
    pub formats: &'static [Format],
    /// It stops on SIGTERM and Ctrl-C itself (and tidies up): no other handler may race it.
    pub own_signals: bool,
    /// It serves several orgs at once (`--profile a --profile b`).
    pub several_orgs: bool,
}

/// The formats every command that writes data takes.
pub const DATA: &[Format] = &[Format::Table, Format::Csv, Format::Json, Format::Ndjson];

/// The data formats and the HTML page.
pub const DATA_AND_PAGE: &[Format] = &[
    Format::Table,
    Format::Csv,
    Format::Json,
    Format::Ndjson,
    Format::Html,
];

/// A command line resolved: its flags checked, its rules and licenses read. What it needs
/// is its variant: a plan that sends nothing, one that needs the API itself, one that reads
/// rows from the API or a dataset. The dispatcher builds that and nothing more.
pub enum Plan {
    Local(Local),
    Api(ApiPlan),
    Rows(RowsPlan),
}

/// Commands that send nothing and read nothing.
pub enum Local {
    Regions,
    Completions(clap_complete::Shell),
    Man,
}

/// Commands that need the Usage API itself.
pub enum ApiPlan {
    ReportByQuery(report::QueryPlan),
    Query(query::Plan),
    Client(client::Plan),
    Jobs(jobs::Plan),
    Resume(resume::Plan),
    Sync(sync::Plan),
}

/// Commands that read rows, from the API or a dataset (`--from`).
pub enum RowsPlan {
    Report(report::Plan),
    JobsExport(jobs::ExportPlan),
    Check(check::Plan),
    Serve(serve::Plan),
    Allowance(allowance::Plan),
}

impl Plan {
    /// Resolves `command`; bad flags, rules, licenses and targets are refused here (exit 2)
    /// before a dataset is opened or a token is asked for.
    pub fn of(
        command: Command,
        format: Format,
        vars: &[(String, String)],
    ) -> Result<Self, Failure> {
        let plan = match command {
            Command::Report(args) => report::plan(args)?,
            Command::Query(args) => Plan::Api(ApiPlan::Query(query::plan(args)?)),
            Command::Client { client, what } => {
                Plan::Api(ApiPlan::Client(client::plan(client, what)?))
            }
            Command::Jobs(args) => jobs::plan(args)?,
            Command::Resume { id, client } => {
                Plan::Api(ApiPlan::Resume(resume::Plan { id, client }))
            }
            Command::Sync(args) => Plan::Api(ApiPlan::Sync(sync::plan(&args, vars)?)),
            Command::Check(args) => Plan::Rows(RowsPlan::Check(check::plan(args)?)),
            Command::Serve(args) => Plan::Rows(RowsPlan::Serve(serve::plan(args)?)),
            Command::Allowance(args) => Plan::Rows(RowsPlan::Allowance(allowance::plan(args)?)),
            Command::Regions => Plan::Local(Local::Regions),
            Command::Completions { shell } => Plan::Local(Local::Completions(shell)),
            Command::Man => Plan::Local(Local::Man),
        };
        let declared = plan.declared();
        let writes_data = !matches!(plan, Plan::Local(Local::Completions(_) | Local::Man));
        if writes_data && !declared.formats.contains(&format) {
            return Err(Failure::Usage(match format {
                Format::Html => {
                    "--format html is for `report` and `allowance`; give csv, json or ndjson".into()
                }
                Format::Openmetrics => {
                    "--format openmetrics is for `jobs --granularity Day` (Prometheus's backfill)"
                        .into()
                }
                other => format!("--format {other:?} is not one this command writes"),
            }));
        }
        Ok(plan)
    }

    /// What its command declares.
    pub fn declared(&self) -> Declared {
        match self {
            Plan::Local(Local::Regions) => regions::DECLARED,
            Plan::Local(Local::Completions(_) | Local::Man) => docs::DECLARED,
            Plan::Api(ApiPlan::ReportByQuery(_)) => report::BY_QUERY,
            Plan::Api(ApiPlan::Query(_) | ApiPlan::Client(_) | ApiPlan::Resume(_)) => {
                query::DECLARED
            }
            Plan::Api(ApiPlan::Jobs(plan)) => plan.declared(),
            Plan::Api(ApiPlan::Sync(_)) => sync::DECLARED,
            Plan::Rows(RowsPlan::Report(_)) => report::DECLARED,
            Plan::Rows(RowsPlan::JobsExport(_)) => jobs::EXPORT,
            Plan::Rows(RowsPlan::Check(_)) => check::DECLARED,
            Plan::Rows(RowsPlan::Serve(_)) => serve::DECLARED,
            Plan::Rows(RowsPlan::Allowance(_)) => allowance::DECLARED,
        }
    }
}

impl RowsPlan {
    /// The dataset it reads instead of the API, when `--from` names one.
    fn from(&self) -> Option<&str> {
        match self {
            RowsPlan::Report(plan) => plan.from.as_deref(),
            RowsPlan::JobsExport(plan) => Some(plan.from.as_str()),
            RowsPlan::Check(plan) => plan.from.as_deref(),
            RowsPlan::Serve(plan) => plan.from.as_deref(),
            RowsPlan::Allowance(plan) => plan.from.as_deref(),
        }
    }
}

/// How to reach the API, from the global flags.
pub fn login(global: &Global) -> Login {
    Login {
        demo: global.demo,
        client_id: global.client_id.clone(),
        client_secret_stdin: global.client_secret_stdin,
        region: global.region.clone(),
        base_url: global.base_url.clone(),
        profile: global.profile.first().cloned(),
        gc_config: global.gc_config.clone(),
        max_wait: global.max_wait,
    }
}

/// Builds what `plan` needs, and runs it.
pub async fn run(
    plan: Plan,
    global: &Global,
    vars: &[(String, String)],
    stdin: impl BufRead,
    pending: Pending,
) -> Result<(), Failure> {
    let session = Session::new(global, vars, pending.clone());
    let progress = session.progress.clone();
    match plan {
        Plan::Local(Local::Regions) => regions::exec(&session),
        Plan::Local(Local::Completions(shell)) => docs::completions(shell),
        Plan::Local(Local::Man) => docs::man(),
        Plan::Api(plan) => {
            let api = Api::connect(&login(global), vars, stdin, progress, pending).await?;
            match plan {
                ApiPlan::ReportByQuery(plan) => report::exec_query(&session, &api, &plan).await,
                ApiPlan::Query(plan) => query::exec(&session, &api, &plan).await,
                ApiPlan::Client(plan) => client::exec(&session, &api, &plan).await,
                ApiPlan::Jobs(plan) => jobs::exec(&session, &api, &plan).await,
                ApiPlan::Resume(plan) => resume::exec(&session, &api, &plan).await,
                ApiPlan::Sync(plan) => sync::exec(&session, &api, plan).await,
            }
        }
        // Several orgs: each its own source, from its own profile.
        Plan::Rows(RowsPlan::Serve(plan)) if global.profile.len() > 1 => {
            serve::exec_profiles(&session, global, vars, &plan).await
        }
        Plan::Rows(plan) => {
            let from = plan.from();
            let login = login(global);
            let source = Source::open(&login, vars, stdin, from, progress, pending).await?;
            match &plan {
                RowsPlan::Report(plan) => report::exec(&session, &source, plan).await,
                RowsPlan::JobsExport(plan) => jobs::export(&session, &source, plan).await,
                RowsPlan::Check(plan) => check::exec(&session, &source, plan).await,
                RowsPlan::Serve(plan) => serve::exec(&session, &source, plan).await,
                RowsPlan::Allowance(plan) => allowance::exec(&session, &source, plan).await,
            }
        }
    }
}
