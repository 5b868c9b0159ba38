//! `query`: an organization usage query (the original API), waited for and printed.

use usage_ext::models::ApiUsageOrganizationQuery;

use crate::cli::QueryArgs;
use crate::cli::resolve;
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::session::Session;
use crate::source::api::Api;

/// `query`, `client` and `resume`: rows of the original queries (or a job's, resumed).
pub const DECLARED: Declared = writes(DATA);

/// The query, resolved from the flags.
pub struct Plan {
    query: ApiUsageOrganizationQuery,
}

pub fn plan(args: QueryArgs) -> Result<Plan, Failure> {
    let mut query = ApiUsageOrganizationQuery::new(resolve::interval(&args.window)?)
        .with_group_by(args.group_by)
        .with_metrics(args.shape.metrics);
    query.granularity = args.shape.granularity;
    Ok(Plan { query })
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let execution = api.queries().submit_organization(&plan.query).await?;
    session.query_rows(api, execution, None).await
}
