//! `client ID query|summary`: one OAuth client's usage (the original API).

use usage_ext::models::ApiUsageClientQuery;

use crate::cli::ClientCommand;
use crate::cli::resolve;
use crate::exit::Failure;
use crate::session::Session;
use crate::source::api::Api;

/// The client's query or summary, resolved from the flags.
pub struct Plan {
    client_id: String,
    what: What,
}

enum What {
    Query(ApiUsageClientQuery),
    Summary(Option<u32>),
}

pub fn plan(client_id: String, what: ClientCommand) -> Result<Plan, Failure> {
    let what = match what {
        ClientCommand::Query(args) => {
            let mut query = ApiUsageClientQuery::new(resolve::interval(&args.window)?)
                .with_group_by(args.group_by)
                .with_metrics(args.shape.metrics);
            query.granularity = args.shape.granularity;
            What::Query(query)
        }
        ClientCommand::Summary { days } => What::Summary(days),
    };
    Ok(Plan { client_id, what })
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let client_id = plan.client_id.as_str();
    let execution = match &plan.what {
        What::Query(query) => api.queries().submit_client(client_id, query).await?,
        What::Summary(days) => {
            api.queries()
                .submit_client_summary(client_id, *days)
                .await?
        }
    };
    session.query_rows(api, execution, Some(client_id)).await
}
