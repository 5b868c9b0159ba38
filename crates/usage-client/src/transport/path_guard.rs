//! A last check that a request addresses the resource its operation names.
//!
//! Ids are percent-encoded into the path, but URL parsing still treats a segment of `.` or
//! `..` (and `%2e` forms) as a dot segment and removes it: an `executionId` of `..` would
//! turn `/api/v2/usage/query/{executionId}/results` into `/api/v2/usage/results`. An empty
//! id silently yields `//`. Both are refused here, before anything is sent.

use crate::operations::OperationSpec;

/// Checks the request's path against the operation's template under `base_url`.
pub(crate) fn check(
    base_url: &str,
    spec: &OperationSpec,
    url: &reqwest::Url,
) -> Result<(), String> {
    let base_path = reqwest::Url::parse(base_url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let expected: Vec<&str> = base_path
        .split('/')
        .filter(|s| !s.is_empty())
        .chain(spec.path.split('/').skip(1))
        .collect();
    let actual: Vec<&str> = url.path().split('/').skip(1).collect();
    if actual.len() != expected.len() {
        return Err(mismatch(spec, url));
    }
    for (want, got) in expected.iter().zip(&actual) {
        match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(param) if got.is_empty() => {
                return Err(format!(
                    "{}: {param} must not be empty (it would address `{}`)",
                    spec.operation_id,
                    url.path()
                ));
            }
            Some(_) => {}
            None if want != got => return Err(mismatch(spec, url)),
            None => {}
        }
    }
    Ok(())
}

fn mismatch(spec: &OperationSpec, url: &reqwest::Url) -> String {
    format!(
        "{}: an id of `.` or `..` would send the request to `{}` instead of `{}`; \
         pass the id the service returned",
        spec.operation_id,
        url.path(),
        spec.path
    )
}

#[cfg(test)]
mod tests {
    use super::check;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    const OP: &crate::operations::OperationSpec = &crate::operations::OPERATIONS[3];

    #[test]
    fn the_operation_is_the_one_these_tests_mean() {
        assert_eq!(OP.name, "get_oauth_client_usage_query_result");
    }

    #[test]
    fn accepts_the_template_shape_under_a_base_path() {
        let u =
            url("https://proxy.example/genesys/api/v2/oauth/clients/c%2F1/usage/query/results/e");
        assert_eq!(check("https://proxy.example/genesys/", OP, &u), Ok(()));
        let u = url("https://api.example/api/v2/oauth/clients/c/usage/query/results/e");
        assert_eq!(check("https://api.example", OP, &u), Ok(()));
    }

    #[test]
    fn refuses_dot_segments_and_empty_ids() {
        // What `..` as the execution id becomes after URL parsing.
        let u = url("https://api.example/api/v2/oauth/clients/c/usage/query/results/../x");
        let err = check("https://api.example", OP, &u).unwrap_err();
        assert!(err.contains("`.` or `..`"), "{err}");
        let u = url("https://api.example/api/v2/oauth/clients//usage/query/results/e");
        let err = check("https://api.example", OP, &u).unwrap_err();
        assert!(err.contains("clientId must not be empty"), "{err}");
    }
}
