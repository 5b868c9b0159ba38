//! How an id becomes one path segment.
//!
//! progenitor's encoder leaves characters such as `\` as they are, and URL parsing turns
//! `\` into `/` in `http(s)` URLs: the execution id `x\..\y` would request
//! `/api/v2/usage/query/y/results`. Here everything but RFC 3986's unreserved characters is
//! percent-encoded, so an id is always exactly one segment that decodes back to it. The
//! generated client calls this function (`cargo xtask generate` points it here); the only
//! ids it cannot carry, `.`, `..` and the empty string, are refused by `path_guard.rs`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but `A-Z a-z 0-9 - . _ ~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `id` as one percent-encoded path segment.
#[doc(hidden)]
pub fn encode_path(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn separators_and_escapes_are_encoded() {
        assert_eq!(encode_path(r"x\..\y"), "x%5C..%5Cy");
        assert_eq!(encode_path("a/b?c#d%e"), "a%2Fb%3Fc%23d%25e");
        assert_eq!(encode_path("é\n "), "%C3%A9%0A%20");
        assert_eq!(encode_path("3f1c-9d2e_x.y~z"), "3f1c-9d2e_x.y~z");
    }
}
