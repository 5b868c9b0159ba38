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

/// The events' targets the server received, in order.
fn events_targets(server: &Hostile) -> Vec<String> {
    server
        .log()
        .iter()
        .filter(|l| l.path() == EVENTS)
        .map(|l| l.target.clone())
        .collect()
}

async fn stream_of(server: &Hostile) -> Vec<Result<usage_client::models::OperationalEvent, Error>> {
    use futures_util::StreamExt as _;
    let queries = queries(builder(server).build().unwrap(), Duration::from_secs(10));
    queries
        .operational_events("2026-11-01T00:00:00Z/2026-11-08T00:00:00Z")
        .unwrap()
        .take(100)
        .collect()
        .await
}

fn event(at: &str) -> serde_json::Value {
    json!({"entityId": "e", "dateCreated": at})
}

#[tokio::test]
async fn a_base64_cursor_goes_back_encoded_once() {
    // `a+b/c==` as the service writes it in its nextUri: percent-encoded once.
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        EVENTS if req.target.contains("after=") => Act::json(
            200,
            json!({"entities": [event("2026-11-02T00:00:00.000Z")]}),
        ),
        EVENTS => Act::json(
            200,
            json!({"entities": [event("2026-11-01T00:00:00.000Z")],
                   "nextUri": format!("{EVENTS}?pageSize=200&after=a%2Bb%2Fc%3D%3D")}),
        ),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let items = stream_of(&server).await;
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(items.len(), 2, "both pages: {items:?}");
    let targets = events_targets(&server);
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        targets[1].contains("after=a%2Bb%2Fc%3D%3D") && !targets[1].contains("%25"),
        "the cursor decoded from the nextUri and encoded once for the request: {targets:?}"
    );
}

#[tokio::test]
async fn a_next_uri_without_a_cursor_is_an_error_not_the_end() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        EVENTS => Act::json(
            200,
            json!({"entities": [event("2026-11-01T00:00:00.000Z")],
                   "nextUri": format!("{EVENTS}?pageSize=200")}),
        ),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let items = stream_of(&server).await;
    assert_eq!(
        items.len(),
        2,
        "the page's event, then the error: {items:?}"
    );
    assert!(items[0].is_ok());
    match &items[1] {
        Err(
            e @ Error::Limits {
                operation: "postUsageEventsQuery",
                ..
            },
        ) => assert!(
            format!("{e}: {:?}", std::error::Error::source(e)).contains("no `after` cursor"),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(EVENTS), 1);
}

#[tokio::test]
async fn empty_pages_with_new_cursors_end_after_the_documented_cap() {
    let server = Hostile::start(|req, earlier| match req.path() {
        // A new cursor every time: the request's place in the log.
        TOKEN => token_ok(),
        EVENTS => Act::json(
            200,
            json!({"entities": [],
                   "nextUri": format!("{EVENTS}?pageSize=200&after=c{}", earlier.len())}),
        ),
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let items = stream_of(&server).await;
    assert_eq!(items.len(), 1, "no event, one error: {items:?}");
    assert!(
        matches!(
            &items[0],
            Err(Error::Limits {
                operation: "postUsageEventsQuery",
                ..
            })
        ),
        "{items:?}"
    );
    assert_eq!(server.count(EVENTS), usage_ext::MAX_EMPTY_EVENT_PAGES);
}
