//! The `after` cursor of a `nextUri`, for every paged operation (the aggregates query jobs'
//! results and the operational events). A cursor is opaque and often base64 (`=`, `+`, `/`):
//! the `nextUri` carries it percent-encoded, the generated client encodes the query value
//! it is given, so it must be decoded here exactly once, or a second encoding reaches the
//! service (`after=c%253D`) and it answers 400.

/// The `after` cursor of a `nextUri` (a path with a query, or an absolute URL), decoded;
/// `None` when it holds none (or an empty one).
pub(crate) fn after(next_uri: &str) -> Option<String> {
    let url = relative_base().join(next_uri).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// What a relative `nextUri` is resolved against (only its query is read).
fn relative_base() -> url::Url {
    url::Url::parse("http://localhost/").expect("a constant URL parses")
}

#[cfg(test)]
mod tests {
    use super::after;

    #[test]
    fn the_cursor_comes_from_next_uri_decoded_once() {
        assert_eq!(
            after("/api/v2/usage/aggregates/query/jobs/j?pageSize=1000&after=abc%3D%3D"),
            Some("abc==".into())
        );
        assert_eq!(
            after("https://api.mypurecloud.com/api/v2/usage/aggregates/query/jobs/j?after=x"),
            Some("x".into())
        );
        assert_eq!(
            after("/api/v2/usage/events/query?pageSize=200&after=a%2Bb%2Fc%3D"),
            Some("a+b/c=".into())
        );
        // Decoded once only: what was encoded twice keeps its second layer.
        assert_eq!(after("/x?after=c%253D"), Some("c%3D".into()));
        assert_eq!(
            after("/api/v2/usage/aggregates/query/jobs/j?pageSize=5"),
            None
        );
        assert_eq!(after("/x?after="), None);
        assert_eq!(after("/x?before=abc"), None);
    }
}
