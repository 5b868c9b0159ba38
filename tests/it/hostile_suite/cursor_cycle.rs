//! A job's pages whose cursors come round again (A, B, A): the paging ends with an error at
//! the first cursor already fetched, instead of paging (and keeping rows) forever.

use super::*;

const JOB: &str = "/api/v2/usage/aggregates/query/jobs/job-1";

/// The `after` cursor a request asked for.
fn after(req: &Logged) -> Option<&str> {
    let (_, query) = req.target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("after="))
}

fn page(row: &str, next: &str) -> Act {
    Act::json(
        200,
        json!({"queryStatus": "Succeeded",
               "entities": [{"date": "2026-11-01", "requestCount": 1, "templateUri": row}],
               "nextUri": format!("{JOB}?pageSize=1000&after={next}")}),
    )
}

#[tokio::test]
async fn a_cursor_seen_before_ends_the_paging_with_an_error() {
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        JOB => match after(req) {
            Some("A") => page("a", "B"),
            Some("B") => page("b", "A"),
            _ => page("first", "A"),
        },
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), Duration::from_secs(10));
    let mut pages = usage_ext::Job::organization("job-1")
        .wait(&queries)
        .await
        .unwrap();
    let mut rows = Vec::new();
    let mut error = None;
    // Bounded: a paging that cycled would show as 20 pages, not as a hang.
    for _ in 0..20 {
        match pages.next_page().await {
            Some(Ok(page)) => rows.extend(page.into_iter().map(|r| r.template_uri.unwrap())),
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
            None => break,
        }
    }
    assert_eq!(
        rows,
        ["first", "a"],
        "the pages before the cycle, once each"
    );
    let error = error.expect("the cycle ends the paging with an error");
    assert!(
        matches!(&error, Error::Page { cursor: Some(c), .. } if c == "B"),
        "{error:?}"
    );
    assert!(error.to_string().contains("job-1"), "{error}");
    let after: Vec<String> = server
        .log()
        .into_iter()
        .filter(|l| after(l).is_some())
        .map(|l| l.target)
        .collect();
    assert_eq!(after.len(), 2, "A and B fetched once each: {after:?}");
}

#[tokio::test]
async fn the_row_stream_of_a_cycling_job_ends() {
    use futures_util::StreamExt;
    let server = Hostile::start(|req, _| match req.path() {
        TOKEN => token_ok(),
        JOB => match after(req) {
            Some("A") => page("a", "A2"),
            Some("A2") => page("a2", "A"),
            _ => page("first", "A"),
        },
        _ => Act::json(404, json!({"status": 404})),
    })
    .await;
    let queries = queries(builder(&server).build().unwrap(), Duration::from_secs(10));
    let pages = usage_ext::Job::organization("job-1")
        .wait(&queries)
        .await
        .unwrap();
    let items: Vec<_> = pages.into_stream().take(20).collect().await;
    let errors = items.iter().filter(|i| i.is_err()).count();
    assert_eq!(errors, 1, "{items:?}");
    assert_eq!(
        items.len(),
        3,
        "two pages, the error, then the end: {items:?}"
    );
}
