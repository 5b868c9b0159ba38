//! An id is one path segment. (The property test is in `properties.rs`.)

use super::*;

#[tokio::test]
async fn an_id_cannot_escape_its_path_segment() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        p if p.ends_with("/usage/query") => submitted(),
        _ => running(),
    })
    .await;
    let client = builder(&server).build().unwrap();
    client
        .get_usage_query_execution_id_results(r"x\..\y")
        .await
        .unwrap();
    client
        .post_oauth_client_usage_query(
            r"victim\..\other",
            &usage_client::models::ApiUsageClientQuery::new("2026-10-01/2026-11-01"),
        )
        .await
        .unwrap();
    let paths: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.path() != TOKEN)
        .map(|l| l.target.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v2/usage/query/x%5C..%5Cy/results",
            "/api/v2/oauth/clients/victim%5C..%5Cother/usage/query"
        ]
    );
}
