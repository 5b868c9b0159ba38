//! An id is one path segment. (The property test is in `properties.rs`.)

use super::*;

/// The request targets the server got, but the token's, in order.
fn api_targets(server: &Hostile) -> Vec<String> {
    server
        .log()
        .iter()
        .filter(|l| l.path() != TOKEN)
        .map(|l| l.target.clone())
        .collect()
}

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
    let paths = api_targets(&server);
    assert_eq!(
        paths,
        [
            "/api/v2/usage/query/x%5C..%5Cy/results",
            "/api/v2/oauth/clients/victim%5C..%5Cother/usage/query"
        ]
    );
}

/// The limits family's ids (`namespaceName`, `requestId`, `eventDefinitionId`) stay inside
/// their segment too, and a dot segment is refused before anything is sent.
#[tokio::test]
async fn the_limits_familys_ids_stay_inside_their_segment() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        _ => Act::json(200, json!({})),
    })
    .await;
    let client = builder(&server).build().unwrap();
    let id = "a/../b?c#d";
    let _ = client.get_organizations_limits_namespace(id).await;
    let _ = client.get_organizations_limits_namespace_defaults(id).await;
    let _ = client.get_organizations_limits_changerequest(id).await;
    let _ = client.get_usage_events_definition(id).await;
    let sent = api_targets(&server);
    assert_eq!(
        sent,
        [
            "/api/v2/organizations/limits/namespaces/a%2F..%2Fb%3Fc%23d",
            "/api/v2/organizations/limits/namespaces/a%2F..%2Fb%3Fc%23d/defaults",
            "/api/v2/organizations/limits/changerequests/a%2F..%2Fb%3Fc%23d",
            "/api/v2/usage/events/definitions/a%2F..%2Fb%3Fc%23d",
        ]
    );
    let before = server.log().len();
    for dots in [".", ".."] {
        let err = client
            .get_organizations_limits_namespace(dots)
            .await
            .unwrap_err();
        assert!(
            matches!(err, UsageError::InvalidRequest(_)),
            "{dots}: {err:?}"
        );
        let err = client.get_usage_events_definition(dots).await.unwrap_err();
        assert!(
            matches!(err, UsageError::InvalidRequest(_)),
            "{dots}: {err:?}"
        );
    }
    assert_eq!(server.log().len(), before, "nothing sent for a dot segment");
}
