//! The README's main command, as CI and a newcomer run it: no credentials, the fake in
//! process, a poll trace and a table of rows.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_prints_the_trace_and_the_table_from_the_fake() {
    let mut out = Vec::new();
    usage_quickstart::run(|_| None, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(
            "No GENESYSCLOUD_* credentials set: running against usage-fake at http://127.0.0.1:"
        ),
        "{text}"
    );
    assert!(lines[1].starts_with("Submitted usage query for "), "{text}");
    let polls: Vec<&&str> = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("poll "))
        .collect();
    assert_eq!(polls.len(), 3, "the fake answers Running twice: {text}");
    assert!(polls[2].ends_with("Complete"), "{text}");
    let header = lines
        .iter()
        .position(|l| l.starts_with("OAuth client"))
        .expect("table header");
    assert!(lines[header].contains("template URI") && lines[header].contains("429s"));
    let body: Vec<&str> = lines[header + 2..]
        .iter()
        .take_while(|l| !l.starts_with("---"))
        .copied()
        .collect();
    assert_eq!(body.len(), 15, "{text}");
    let requests: Vec<i64> = body
        .iter()
        .map(|l| l.split_whitespace().rev().nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(
        requests.windows(2).all(|w| w[0] >= w[1]),
        "sorted by requests: {requests:?}"
    );
    assert!(body.iter().all(|l| l.contains("api/v2/")), "{text}");
    // 24 series of the fake's org, grouped by client and endpoint: series of two users of
    // one client on one endpoint share a row, so at most 24 rows.
    let summary = lines.last().unwrap();
    let (rows, rest) = summary.split_once(" rows ").expect("a summary line");
    let rows: usize = rows.parse().unwrap();
    assert!((15..=24).contains(&rows), "{text}");
    assert!(rest.starts_with("(15 shown), "), "{text}");
}

#[tokio::test]
async fn quickstart_with_credentials_goes_to_the_configured_org_and_reports_errors() {
    // Credentials present but pointing nowhere reachable: the error is reported, no fake.
    let lookup = |name: &str| match name {
        "GENESYSCLOUD_ACCESS_TOKEN" => Some("token".to_string()),
        "GENESYSCLOUD_REGION" => Some("nowhere-1".to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    let err = usage_quickstart::run(lookup, &mut out).await.unwrap_err();
    assert!(err.to_string().contains("nowhere-1"), "{err}");
    assert!(out.is_empty());
}
