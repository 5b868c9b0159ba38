//! `client ID query|summary`: one OAuth client's usage (the original API).

use usage_ext::models::{ApiUsageClientQuery, ClientGroupBy};

use crate::cli::ClientCommand;
use crate::cli::resolve;
use crate::commands::query::wait_rows;
use crate::exit::Failure;
use crate::session::Session;

pub async fn exec(session: &Session, client_id: &str, what: ClientCommand) -> Result<(), Failure> {
    let execution = match what {
        ClientCommand::Query(args) => {
            let mut query = ApiUsageClientQuery::new(resolve::interval(&args.window)?)
                .with_group_by(
                    args.group_by
                        .iter()
                        .map(|g| ClientGroupBy::from(g.as_str())),
                )
                .with_metrics(resolve::metrics(&args.shape));
            query.granularity = resolve::granularity(&args.shape);
            session.queries.submit_client(client_id, &query).await?
        }
        ClientCommand::Summary { days } => {
            session
                .queries
                .submit_client_summary(client_id, days)
                .await?
        }
    };
    wait_rows(session, execution, Some(client_id)).await
}
