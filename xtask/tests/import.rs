//! `cargo xtask import`: each conversion rule on a fixture written for these tests, and
//! upstream's own Usage API file reproducing the committed fragment byte for byte.

use std::path::Path;

use serde_yaml::Value;
use xtask::import::{import, parse_operations, parse_upstream};
use xtask::{SPEC_PATH, import_spec, workspace_root};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_fixture(operations: &str, rules: &str) -> Result<String, xtask::Error> {
    let upstream = parse_upstream(&fixture("petstore-swagger.yaml"))?;
    import(&upstream, &parse_operations(operations)?, rules)
}

fn fragment() -> Value {
    let text = import_fixture("postWalk\ngetWalks\n", &fixture("rules.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

const WALKS: &str = "/api/v9/kennels/{kennelId}/walks";

/// The path item of `path` (whose key holds slashes of its own).
fn item<'a>(doc: &'a Value, path: &str) -> &'a Value {
    at(doc, "paths")
        .get(path)
        .unwrap_or_else(|| panic!("no path {path}"))
}

fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('/').fold(value, |v, key| match v {
        Value::Sequence(items) => &items[key.parse::<usize>().unwrap()],
        _ => v.get(key).unwrap_or_else(|| panic!("no {key} in {path}")),
    })
}

#[test]
fn the_fixture_imports_as_reviewed() {
    let text = import_fixture("postWalk\ngetWalks\n", &fixture("rules.yaml")).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn operations_follow_the_list_and_only_the_list() {
    let doc = fragment();
    let paths = at(&doc, "paths").as_mapping().unwrap();
    assert_eq!(paths.len(), 1, "getCats is not listed");
    let methods: Vec<_> = item(&doc, WALKS)
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(methods, ["post", "get"]);
    // Only the tags the imported operations use.
    assert_eq!(at(&doc, "tags").as_sequence().unwrap().len(), 1);
    assert_eq!(at(&doc, "tags/0/name"), "Kennel");
    assert!(at(&doc, "components/schemas").get("Cat").is_none());
}

#[test]
fn bodies_parameters_and_answers_take_openapi_3_shape() {
    let doc = fragment();
    let post = at(item(&doc, WALKS), "post");
    assert_eq!(
        at(post, "summary"),
        "Book a walk",
        "a trailing ' - ' is cut"
    );
    assert_eq!(
        at(
            &at(post, "requestBody/content")["application/json"],
            "schema/$ref"
        ),
        "#/components/schemas/WalkRequest"
    );
    assert_eq!(at(post, "requestBody/required"), &Value::Bool(true));
    assert_eq!(at(post, "parameters/0/schema/type"), "string");
    assert_eq!(at(post, "parameters").as_sequence().unwrap().len(), 1);
    let responses: Vec<_> = at(post, "responses")
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(responses, ["202", "4XX", "5XX"]);
    assert_eq!(
        at(post, "responses/4XX/$ref"),
        "#/components/responses/ClientError"
    );
    assert_eq!(
        at(post, "x-inin-error-codes/400/bad.request"),
        "The request was bad."
    );
    assert_eq!(
        at(post, "x-inin-error-codes/503/service.unavailable"),
        "Down for a bit."
    );
    assert_eq!(
        at(post, "description"),
        "Books a walk for later\n\nRequires ALL permissions: `kennel:walk:add`."
    );
    assert_eq!(at(post, "x-inin-requires-permissions/type"), "ALL");
    assert_eq!(at(post, "security/0/FixtureOAuth/0"), "walks");
    let get = at(item(&doc, WALKS), "get");
    assert_eq!(at(get, "parameters/1/schema/default"), "7");
    assert_eq!(at(get, "description"), "Lists the walks of a kennel.");
    let responses: Vec<_> = at(get, "responses")
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(responses, ["200", "4XX"], "no 5xx upstream, no 5XX here");
    assert_eq!(
        at(&doc, "components/responses/ClientError/description"),
        "The request was refused (400, 404, 429)."
    );
    assert_eq!(
        at(
            &doc,
            "components/securitySchemes/FixtureOAuth/flows/clientCredentials/tokenUrl"
        ),
        "https://login.example/oauth/token"
    );
}

#[test]
fn inline_enums_and_listed_strings_become_named_schemas() {
    let doc = fragment();
    let schemas = at(&doc, "components/schemas");
    // PascalCase(property), shared by two schemas with the same values; the property's
    // description moves to the named schema.
    assert_eq!(
        at(schemas, "WalkRequest/properties/pace/$ref"),
        "#/components/schemas/Pace"
    );
    assert_eq!(
        at(schemas, "Walk/properties/pace/$ref"),
        "#/components/schemas/Pace"
    );
    assert_eq!(at(schemas, "Pace/description"), "How fast");
    assert_eq!(at(schemas, "Pace/enum/1"), "Brisk");
    // Named by the rules, for an array's items.
    assert_eq!(
        at(schemas, "WalkRequest/properties/tricks/items/$ref"),
        "#/components/schemas/Trick"
    );
    assert_eq!(at(schemas, "WalkRequest/properties/tricks/type"), "array");
    assert_eq!(
        at(schemas, "Trick/description"),
        "A trick a dog can practise."
    );
    // A listed string property.
    assert_eq!(
        at(schemas, "Walk/properties/startedAt/$ref"),
        "#/components/schemas/Instant"
    );
    assert_eq!(at(schemas, "Instant/format"), "date-time");
    // A description beside a $ref moves to a schema that has none.
    assert_eq!(at(schemas, "Walk/description"), "The walk booked");
    // Descriptions from the rules, where upstream has none.
    assert_eq!(at(schemas, "Problem/description"), "An error answer.");
    assert_eq!(
        at(schemas, "Problem/properties/message/description"),
        "What went wrong."
    );
    // References point at components; recursion is fine.
    assert_eq!(
        at(schemas, "Problem/properties/causes/items/$ref"),
        "#/components/schemas/Problem"
    );
    let names: Vec<_> = schemas
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "WalkRequest",
            "Pace",
            "Trick",
            "Booking",
            "Walk",
            "Instant",
            "WalkList",
            "Problem"
        ]
    );
}

#[test]
fn output_is_deterministic_and_json_input_gives_the_same_fragment() {
    let rules = fixture("rules.yaml");
    let a = import_fixture("postWalk\ngetWalks", &rules).unwrap();
    let b = import_fixture("postWalk\ngetWalks", &rules).unwrap();
    assert_eq!(a, b);
    let as_json =
        serde_json::to_string(&parse_upstream(&fixture("petstore-swagger.yaml")).unwrap()).unwrap();
    let from_json = import(
        &parse_upstream(&as_json).unwrap(),
        &parse_operations("postWalk\ngetWalks").unwrap(),
        &rules,
    )
    .unwrap();
    assert_eq!(a, from_json);
}

#[test]
fn mistakes_are_refused_with_what_to_fix() {
    let rules = fixture("rules.yaml");
    let err = import_fixture("postWalk\nnoSuchOperation", &rules).unwrap_err();
    assert!(
        err.to_string()
            .contains("noSuchOperation is not in the upstream"),
        "{err}"
    );
    let err = import_fixture("postWalk\npostWalk", &rules).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
    let err = import_fixture("# nothing\n", &rules).unwrap_err();
    assert!(err.to_string().contains("lists no operation"), "{err}");
    // Two enums with one name but different values.
    let clash = rules.replace("enums:\n", "enums:\n  Walk.pace:\n    name: Trick\n");
    let err = import_fixture("postWalk", &clash).unwrap_err();
    assert!(err.to_string().contains("both named Trick"), "{err}");
    let err = import_fixture("postWalk", "info: {}").unwrap_err();
    assert!(err.to_string().contains("spec/import.yaml"), "{err}");
    let err = parse_upstream("openapi: 3.0.3\n").unwrap_err();
    assert!(err.to_string().contains("not a Swagger 2.0"), "{err}");
}

/// Upstream's Usage API file and the limits family's (in `../shared`, never committed here)
/// must give the committed fragment byte for byte: the spec is never edited by hand.
#[test]
fn upstream_reproduces_the_committed_fragment() {
    let root = workspace_root();
    let dir = root.join("../shared/reference/upstream");
    let files = [
        dir.join("usage-api.swagger.yaml"),
        dir.join("limits-api.swagger.yaml"),
    ];
    if let Some(absent) = files.iter().find(|f| !f.exists()) {
        eprintln!(
            "{} is absent: the byte-for-byte check of {SPEC_PATH} is skipped",
            absent.display()
        );
        return;
    }
    let paths: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let imported = import_spec(&root, &paths).unwrap();
    let committed = std::fs::read_to_string(root.join(SPEC_PATH)).unwrap();
    if imported != committed {
        panic!(
            "{}\n{SPEC_PATH} differs from `cargo xtask import` of {} and {}: re-import and commit",
            xtask::unified_diff(SPEC_PATH, &committed, &imported),
            files[0].display(),
            files[1].display()
        );
    }
}

/// Two upstream documents join: their paths and definitions, and an enum the later one
/// lists more values of; a definition that differs otherwise, or a path in both, is refused.
#[test]
fn two_upstream_documents_merge_and_conflicts_are_refused() {
    let doc = |text: &str| parse_upstream(text).unwrap();
    let first = doc(
        "swagger: '2.0'\npaths:\n  /a: {}\ndefinitions:\n  E:\n    type: string\n    enum: [x, y]\n",
    );
    let second = doc(
        "swagger: '2.0'\npaths:\n  /b: {}\ndefinitions:\n  E:\n    type: string\n    enum: [y, z]\n  F:\n    type: integer\n",
    );
    let merged = xtask::import::merge(vec![first.clone(), second]).unwrap();
    let text = serde_yaml::to_string(&merged).unwrap();
    assert!(text.contains("/a:") && text.contains("/b:"), "{text}");
    assert!(text.contains("- x\n    - y\n    - z"), "{text}");
    assert!(text.contains("F:"), "{text}");
    let clash = doc("swagger: '2.0'\npaths:\n  /a: {}\ndefinitions: {}\n");
    let err = xtask::import::merge(vec![first.clone(), clash]).unwrap_err();
    assert!(err.to_string().contains("/a is in two"), "{err}");
    let other = doc("swagger: '2.0'\npaths: {}\ndefinitions:\n  E:\n    type: integer\n");
    let err = xtask::import::merge(vec![first, other]).unwrap_err();
    assert!(err.to_string().contains("E differs"), "{err}");
}
