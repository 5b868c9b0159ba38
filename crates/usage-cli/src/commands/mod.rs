//! One module per command (cargo's `commands/` layout). Each declares what it takes
//! ([`Declared`]: its formats, whether it handles signals itself) and resolves its flags
//! into a plan before anything is opened or
//! sent (ripgrep's `LowArgs` -> `HiArgs`); [`run`] reads the declarations, builds what the
//! plan needs and nothing more, and hands it over. A plan that reads rows gets a
//! [`Source`]; one that reads a dataset gets no client at all.

pub mod allowance;
pub mod check;
mod client;
mod declared;
mod docs;
mod events;
mod evidence;
mod jobs;
mod limits;
mod query;
mod regions;
pub mod report;
mod resume;
pub mod serve;
pub mod sync;
mod watch;

use std::io::BufRead;

use crate::cli::{Command, Format, Global};
pub use crate::commands::declared::Declared;
use crate::exit::Failure;
use crate::progress::Pending;
use crate::session::Session;
use crate::source::Source;
use crate::source::api::Api;

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
    Jobs(Box<jobs::Plan>),
    Resume(resume::Plan),
    Sync(sync::Plan),
    Limits(limits::Plan),
    Events(events::Plan),
    Watch(watch::Plan),
}

/// Commands that read rows, from the API or a dataset (`--from`).
pub enum RowsPlan {
    Report(report::Plan),
    JobsExport(jobs::ExportPlan),
    Check(check::Plan),
    Serve(serve::Plan),
    Allowance(allowance::Plan),
    Evidence(evidence::Plan),
    Events(events::Plan),
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
            Command::Report(args) => match report::plan(args)? {
                report::Resolved::Rows(plan) => Plan::Rows(RowsPlan::Report(plan)),
                report::Resolved::ByQuery(plan) => Plan::Api(ApiPlan::ReportByQuery(plan)),
            },
            Command::Query(args) => Plan::Api(ApiPlan::Query(query::plan(args)?)),
            Command::Client { client, what } => {
                Plan::Api(ApiPlan::Client(client::plan(client, what)?))
            }
            Command::Jobs(args) => match jobs::plan(args)? {
                jobs::Resolved::Api(plan) => Plan::Api(ApiPlan::Jobs(plan)),
                jobs::Resolved::Export(plan) => Plan::Rows(RowsPlan::JobsExport(plan)),
            },
            Command::Resume { id, client } => {
                Plan::Api(ApiPlan::Resume(resume::Plan { id, client }))
            }
            Command::Sync(args) => Plan::Api(ApiPlan::Sync(sync::plan(&args, vars)?)),
            Command::Check(args) => Plan::Rows(RowsPlan::Check(check::plan(args, vars)?)),
            Command::Serve(args) => Plan::Rows(RowsPlan::Serve(serve::plan(args, vars)?)),
            Command::Allowance(args) => Plan::Rows(RowsPlan::Allowance(allowance::plan(args)?)),
            Command::Limits(args) => Plan::Api(ApiPlan::Limits(limits::plan(args)?)),
            Command::Events(args) => {
                let plan = events::plan(args)?;
                if plan.from.is_some() {
                    Plan::Rows(RowsPlan::Events(plan))
                } else {
                    Plan::Api(ApiPlan::Events(plan))
                }
            }
            Command::Watch(args) => Plan::Api(ApiPlan::Watch(watch::plan(args, vars)?)),
            Command::Evidence(args) => Plan::Rows(RowsPlan::Evidence(evidence::plan(args)?)),
            Command::Regions => Plan::Local(Local::Regions),
            Command::Completions { shell } => Plan::Local(Local::Completions(shell)),
            Command::Man => Plan::Local(Local::Man),
        };
        let formats = plan.declared().formats;
        // A command that writes no data (completions, man) declares no format to refuse.
        if !formats.is_empty() && !formats.contains(&format) {
            return Err(Failure::Usage(match format {
                Format::Html => {
                    "--format html is for `report`, `allowance` and `evidence`; give csv, json or ndjson".into()
                }
                Format::Openmetrics => {
                    "--format openmetrics is for `jobs --granularity Day` (Prometheus's backfill)"
                        .into()
                }
                // Named as --format and --output's extension name it, with what it writes.
                other => {
                    let name = |f: &Format| {
                        clap::ValueEnum::to_possible_value(f)
                            .map(|v| v.get_name().to_string())
                            .unwrap_or_default()
                    };
                    let writes: Vec<String> = formats.iter().map(name).collect();
                    format!(
                        "this command writes no {} (asked by --format or the --output file's \
                         extension); it writes {}",
                        name(&other),
                        writes.join(", ")
                    )
                }
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
            Plan::Api(ApiPlan::Watch(_)) => watch::DECLARED,
            Plan::Api(ApiPlan::Limits(_)) => limits::DECLARED,
            Plan::Api(ApiPlan::Events(_)) | Plan::Rows(RowsPlan::Events(_)) => events::DECLARED,
            Plan::Rows(RowsPlan::Report(_)) => report::DECLARED,
            Plan::Rows(RowsPlan::JobsExport(_)) => jobs::EXPORT,
            Plan::Rows(RowsPlan::Check(_)) => check::DECLARED,
            Plan::Rows(RowsPlan::Serve(_)) => serve::DECLARED,
            Plan::Rows(RowsPlan::Allowance(_)) => allowance::DECLARED,
            Plan::Rows(RowsPlan::Evidence(_)) => evidence::DECLARED,
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
            RowsPlan::Evidence(plan) => plan.from.as_deref(),
            RowsPlan::Events(plan) => plan.from.as_deref(),
        }
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
            let api = Api::connect(&global.login(), vars, stdin, progress, pending).await?;
            match plan {
                ApiPlan::ReportByQuery(plan) => report::exec_query(&session, &api, &plan).await,
                ApiPlan::Query(plan) => query::exec(&session, &api, &plan).await,
                ApiPlan::Client(plan) => client::exec(&session, &api, &plan).await,
                ApiPlan::Jobs(plan) => jobs::exec(&session, &api, &plan).await,
                ApiPlan::Resume(plan) => resume::exec(&session, &api, &plan).await,
                ApiPlan::Sync(plan) => sync::exec(&session, &api, plan).await,
                ApiPlan::Limits(plan) => limits::exec(&session, &api, &plan).await,
                ApiPlan::Events(plan) => events::exec(&session, &api, &plan).await,
                ApiPlan::Watch(plan) => watch::exec(&session, &api, &plan).await,
            }
        }
        // Several orgs: each its own source, from its own profile.
        Plan::Rows(RowsPlan::Serve(plan)) if global.profile.len() > 1 => {
            serve::exec_profiles(&session, global, vars, &plan).await
        }
        Plan::Rows(plan) => {
            let from = plan.from();
            let source =
                Source::open(&global.login(), vars, stdin, from, progress, pending).await?;
            match &plan {
                RowsPlan::Report(plan) => report::exec(&session, &source, plan).await,
                RowsPlan::JobsExport(plan) => jobs::export(&session, &source, plan).await,
                RowsPlan::Check(plan) => check::exec(&session, &source, plan).await,
                RowsPlan::Serve(plan) => serve::exec(&session, &source, plan).await,
                RowsPlan::Allowance(plan) => allowance::exec(&session, &source, plan).await,
                RowsPlan::Evidence(plan) => evidence::exec(&session, &source, plan).await,
                RowsPlan::Events(plan) => events::exec_from(&session, &source, plan).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::Cli;

    fn plan(line: &str) -> Result<Plan, Failure> {
        let cli = Cli::try_parse_from(line.split_whitespace()).expect("a valid command line");
        Plan::of(cli.command, crate::session::format(&cli.global), &[])
    }

    #[test]
    fn each_command_line_resolves_to_what_it_needs() {
        let needs = |line: &str| match plan(line).unwrap() {
            Plan::Local(_) => "nothing",
            Plan::Api(_) => "api",
            Plan::Rows(_) => "rows",
        };
        assert_eq!(needs("genesys-usage regions"), "nothing");
        assert_eq!(needs("genesys-usage man"), "nothing");
        assert_eq!(needs("genesys-usage report"), "rows");
        assert_eq!(needs("genesys-usage report --api query"), "api");
        assert_eq!(needs("genesys-usage jobs --since 3d"), "api");
        assert_eq!(needs("genesys-usage jobs --from d"), "rows");
        assert_eq!(needs("genesys-usage check --max-429 1"), "rows");
        assert_eq!(needs("genesys-usage allowance --allocation 5"), "rows");
        assert_eq!(needs("genesys-usage serve"), "rows");
        assert_eq!(needs("genesys-usage resume x"), "api");
        assert_eq!(needs("genesys-usage events"), "api");
        assert_eq!(needs("genesys-usage events --from d"), "rows");
    }

    #[test]
    fn the_declarations_decide_formats_signals_and_orgs() {
        assert!(plan("genesys-usage report --format html").is_ok());
        assert!(plan("genesys-usage allowance --allocation 5 --format html").is_ok());
        assert!(plan("genesys-usage evidence --client a1 --format html").is_ok());
        let refused = plan("genesys-usage check --max-429 1 --format html");
        assert!(
            matches!(refused, Err(Failure::Usage(t)) if t.contains("for `report`, `allowance` and `evidence`"))
        );
        assert!(plan("genesys-usage evidence --client a1 --format csv").is_err());
        assert!(
            plan("genesys-usage jobs --since 3d --granularity Day --format openmetrics").is_ok()
        );
        let refused = plan("genesys-usage jobs --since 3d --format openmetrics");
        assert!(matches!(refused, Err(Failure::Usage(t)) if t.contains("--granularity Day")));
        assert!(plan("genesys-usage jobs --from d --format openmetrics").is_ok());
        let declared = |line: &str| plan(line).unwrap().declared();
        assert!(declared("genesys-usage serve").own_signals);
        assert!(declared("genesys-usage serve").several_orgs);
        assert!(declared("genesys-usage sync --to d").own_signals);
        assert!(!declared("genesys-usage report").own_signals);
        assert!(!declared("genesys-usage report").several_orgs);
    }
}
