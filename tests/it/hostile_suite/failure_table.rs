//! The README's failure table stays true to this suite.

#[test]
fn the_failure_table_names_existing_tests_and_every_suite_test() {
    let root = usage_tests::workspace_root();
    let readme = std::fs::read_to_string(root.join("crates/usage-client/README.md")).unwrap();
    let table = readme
        .split("## Failure behaviour")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("crates/usage-client/README.md has a Failure behaviour section");
    let named: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_end_matches('|').rsplit('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect();
    assert!(named.len() > 20, "{named:?}");
    let suite = suite_sources(&root);
    let sources = format!(
        "{suite}{}",
        std::fs::read_to_string(root.join("tests/it/runtime.rs")).unwrap()
    );
    for name in &named {
        assert!(
            sources.contains(&format!("fn {name}(")),
            "the failure table names `{name}`, which is no test: update the row"
        );
    }
    let mut lines = suite.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("#[tokio::test") || line == "#[test]") {
            continue;
        }
        // proptest's tests sit inside `proptest!`, named on the next `fn` line as well.
        let Some(name) = lines
            .find_map(|l| l.split("fn ").nth(1))
            .and_then(|rest| rest.split('(').next())
        else {
            continue;
        };
        if name == "the_failure_table_names_existing_tests_and_every_suite_test" {
            continue;
        }
        assert!(
            named.contains(&name),
            "`{name}` proves a failure behaviour the table in crates/usage-client/README.md does not list"
        );
    }
}

/// Every module of the suite, in name order: the test names are looked up in all of them.
fn suite_sources(root: &std::path::Path) -> String {
    let dir = root.join("tests/it/hostile_suite");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    paths.sort();
    assert!(paths.len() > 10, "{paths:?}");
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}
