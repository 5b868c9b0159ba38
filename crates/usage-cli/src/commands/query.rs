//! `query`: an organization usage query (the original API), waited for and printed.

use usage_ext::Execution;
use usage_ext::models::{ApiUsageOrganizationQuery, OrganizationGroupBy};

use crate::cli::QueryArgs;
use crate::cli::resolve;
use crate::exit::Failure;
use crate::session::Session;

pub async fn exec(session: &Session, args: &QueryArgs) -> Result<(), Failure> {
    let mut query = ApiUsageOrganizationQuery::new(resolve::interval(&args.window)?)
        .with_group_by(
            args.group_by
                .iter()
                .map(|g| OrganizationGroupBy::from(g.as_str())),
        )
        .with_metrics(resolve::metrics(&args.shape));
    query.granularity = resolve::granularity(&args.shape);
    let execution = session.queries.submit_organization(&query).await?;
    wait_rows(session, execution, None).await
}

/// Waits for a usage query and prints its rows.
pub async fn wait_rows(
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
