//! The operational events' cursor coming round again ends usage-ext's stream with an error
//! after the events already fetched, instead of paging forever.

use super::*;

const EVENTS: &str = "/api/v2/usage/events/query";

#[tokio::test]
async fn an_events_cursor_seen_before_ends_the_stream_after_its_events() {
    use futures_util::StreamExt as _;
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        EVENTS => Act::json(
            200,
            json!({"entities": [{"entityId": "e", "dateCreated": "2026-11-01T00:00:00.000Z"}],
                   "nextUri": format!("{EVENTS}?after=A&pageSize=200")}),
        ),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), Duration::from_secs(10));
    let items: Vec<_> = queries
        .operational_events("2026-11-01T00:00:00Z/2026-11-08T00:00:00Z")
        .unwrap()
        .take(20)
        .collect()
        .await;
    let oks = items.iter().filter(|i| i.is_ok()).count();
    assert_eq!(oks, 2, "the first page and the page after A: {items:?}");
    assert!(
        matches!(
            items.last(),
            Some(Err(Error::Limits {
                operation: "postUsageEventsQuery",
                ..
            }))
        ),
        "{items:?}"
    );
    assert_eq!(items.len(), 3, "then the end: {items:?}");
    assert_eq!(server.count(EVENTS), 2, "each cursor fetched once");
    let targets: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.path() == EVENTS)
        .map(|l| l.target.clone())
        .collect();
    assert!(
        !targets[0].contains("after=") && targets[1].contains("after=A"),
        "the cursor goes in `after`: {targets:?}"
    );
}
