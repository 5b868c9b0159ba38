//! Reviewed snapshots: the operation table derived from the spec (any spec change shows
//! as a diff), the JSON each request body serializes to, and the models decoded from
//! realistic responses.

use std::fmt::Write as _;

use openapiv3::{OpenAPI, Parameter, ReferenceOr, Schema, SchemaKind, Type};
use usage_client::models::{
    ApiUsageClientQuery, ApiUsageOrganizationQuery, ApiUsageQueryResult, ClientGroupBy, ErrorBody,
    Granularity, Metric, OrganizationGroupBy, UsageExecutionResult,
};
use usage_tests::{fixture, workspace_root};

fn spec() -> OpenAPI {
    let text = std::fs::read_to_string(workspace_root().join("spec/usage-api.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn schema_type(schema: &ReferenceOr<Schema>) -> String {
    match schema {
        ReferenceOr::Reference { reference } => ref_name(reference).to_string(),
        ReferenceOr::Item(item) => match &item.schema_kind {
            SchemaKind::Type(Type::String(s)) => match (&item.schema_data.default, &s.format) {
                (Some(default), _) => format!("string = {default}"),
                (None, openapiv3::VariantOrUnknownOrEmpty::Unknown(f)) => format!("string({f})"),
                _ => "string".into(),
            },
            SchemaKind::Type(Type::Integer(i)) => match (&item.schema_data.default, &i.format) {
                (Some(default), _) => format!("integer = {default}"),
                (None, openapiv3::VariantOrUnknownOrEmpty::Item(f)) => {
                    format!("integer({})", format!("{f:?}").to_lowercase())
                }
                _ => "integer".into(),
            },
            SchemaKind::Type(Type::Array(array)) => match &array.items {
                Some(items) => format!("array of {}", schema_type(&items.clone().unbox())),
                None => "array".into(),
            },
            other => format!("{other:?}"),
        },
    }
}

fn response_type(spec: &OpenAPI, response: &ReferenceOr<openapiv3::Response>) -> String {
    let response = match response {
        ReferenceOr::Item(r) => r,
        ReferenceOr::Reference { reference } => {
            let name = ref_name(reference);
            match &spec.components.as_ref().unwrap().responses[name] {
                ReferenceOr::Item(r) => r,
                ReferenceOr::Reference { .. } => panic!("nested response reference"),
            }
        }
    };
    response
        .content
        .iter()
        .map(|(media, content)| {
            format!(
                "{media} {}",
                content.schema.as_ref().map(schema_type).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One block per operation, in spec order.
fn operation_table(spec: &OpenAPI) -> String {
    let mut out = String::new();
    for (path, item) in spec.paths.iter() {
        let item = item.as_item().unwrap();
        for (method, op) in item.iter() {
            let id = op.operation_id.as_deref().unwrap();
            writeln!(out, "{id}: {} {path}", method.to_uppercase()).unwrap();
            for p in &op.parameters {
                let ReferenceOr::Item(p) = p else {
                    panic!("parameter reference")
                };
                let (kind, data) = match p {
                    Parameter::Path { parameter_data, .. } => ("path", parameter_data),
                    Parameter::Query { parameter_data, .. } => ("query", parameter_data),
                    Parameter::Header { parameter_data, .. } => ("header", parameter_data),
                    Parameter::Cookie { parameter_data, .. } => ("cookie", parameter_data),
                };
                let ty = match &data.format {
                    openapiv3::ParameterSchemaOrContent::Schema(s) => schema_type(s),
                    openapiv3::ParameterSchemaOrContent::Content(_) => "content".into(),
                };
                let req = if data.required {
                    "required"
                } else {
                    "optional"
                };
                writeln!(out, "  param {kind} {}: {ty} ({req})", data.name).unwrap();
            }
            if let Some(ReferenceOr::Item(body)) = &op.request_body {
                for (media, content) in &body.content {
                    let ty = content.schema.as_ref().map(schema_type).unwrap_or_default();
                    let req = if body.required {
                        "required"
                    } else {
                        "optional"
                    };
                    writeln!(out, "  body {media} {ty} ({req})").unwrap();
                }
            }
            for (status, response) in &op.responses.responses {
                writeln!(out, "  {status} -> {}", response_type(spec, response)).unwrap();
            }
            if let Some(ext) = op.extensions.get("x-inin-requires-permissions") {
                writeln!(out, "  permissions {ext}").unwrap();
            }
        }
    }
    out
}

#[test]
fn operation_table_from_the_spec() {
    let spec = spec();
    insta::assert_snapshot!(operation_table(&spec));
}

/// The client's own table (generated) agrees with the spec.
#[test]
fn generated_operation_table_matches_the_spec() {
    let spec = spec();
    let from_spec: Vec<(String, String, String)> = spec
        .paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_item().unwrap().iter().map(move |(method, op)| {
                (
                    op.operation_id.clone().unwrap(),
                    method.to_uppercase(),
                    path.clone(),
                )
            })
        })
        .collect();
    let generated: Vec<(String, String, String)> = usage_client::OPERATIONS
        .iter()
        .map(|op| (op.operation_id.into(), op.method.into(), op.path.into()))
        .collect();
    assert_eq!(generated, from_spec);
    assert_eq!(
        generated.len(),
        22,
        "the five queries, the six of the successor API and the eleven of the limits family"
    );
}

#[test]
fn request_bodies_serialize_to_the_wire_shape() {
    let full = ApiUsageOrganizationQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z")
        .with_granularity(Granularity::Week)
        .with_metrics([
            Metric::Status200,
            Metric::Status300,
            Metric::Status400,
            Metric::Status500,
            Metric::Status429,
            Metric::Requests,
        ])
        .with_group_by([
            OrganizationGroupBy::OAuthClientId,
            OrganizationGroupBy::OrganizationId,
            OrganizationGroupBy::UserId,
            OrganizationGroupBy::TemplateUri,
            OrganizationGroupBy::HttpMethod,
        ]);
    insta::assert_json_snapshot!("organization_query_full", full);
    insta::assert_json_snapshot!(
        "organization_query_minimal",
        ApiUsageOrganizationQuery::new("2020-01/2020-06")
    );
    let client = ApiUsageClientQuery::new("2026-11-01/2026-11-26")
        .with_granularity(Granularity::Month)
        .with_metrics([Metric::Requests, Metric::from("Status418")])
        .with_group_by([ClientGroupBy::TemplateUri, ClientGroupBy::HttpMethod]);
    insta::assert_json_snapshot!("client_query", client);
}

#[test]
fn decoded_complete_result() {
    let result: ApiUsageQueryResult =
        serde_json::from_str(&fixture("result_complete.json")).unwrap();
    insta::assert_debug_snapshot!(result);
}

/// A later service version: an unlisted `queryStatus`, unknown fields at every level.
#[test]
fn decoded_result_with_unknown_values_and_fields() {
    let result: ApiUsageQueryResult = serde_json::from_str(&fixture("result_future.json")).unwrap();
    insta::assert_debug_snapshot!(result);
    // The unknown status goes back out as the service sent it.
    let back = serde_json::to_value(&result).unwrap();
    assert_eq!(back["queryStatus"], "Queued");
}

#[test]
fn decoded_execution_result() {
    let result: UsageExecutionResult = serde_json::from_str(
        r#"{"executionId":"e6f7a8b9-0c1d-4e2f-8a3b-4c5d6e7f8a9b","resultsUri":"/api/v2/usage/query/e6f7a8b9-0c1d-4e2f-8a3b-4c5d6e7f8a9b/results"}"#,
    )
    .unwrap();
    insta::assert_debug_snapshot!(result);
}

#[test]
fn decoded_error_bodies() {
    let full: ErrorBody = serde_json::from_str(&fixture("error_rate_limited.json")).unwrap();
    insta::assert_debug_snapshot!("error_body_full", full);
    let unknown: ErrorBody =
        serde_json::from_str(&fixture("error_unknown_namespace.json")).unwrap();
    insta::assert_debug_snapshot!("error_body_unknown_namespace", unknown);
    assert_eq!(
        serde_json::to_value(&unknown).unwrap()["limit"]["namespace"],
        "usage.reporting"
    );
}

#[test]
fn job_request_serializes_to_the_wire_shape() {
    use usage_client::models::{
        HttpMethod, JobMetric, OrganizationJobGroupBy, OrganizationPublicApiUsageQueryRequest,
        SortOrder, UsageQuerySortBy,
    };
    let request = OrganizationPublicApiUsageQueryRequest {
        interval: "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z".into(),
        granularity: Some(Granularity::Day),
        group_by: vec![
            OrganizationJobGroupBy::OauthClientId,
            OrganizationJobGroupBy::TemplateUri,
        ],
        http_methods: vec![HttpMethod::POST],
        metrics: vec![JobMetric::Requests, JobMetric::Status429],
        oauth_client_ids: vec!["1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d".into()],
        platforms: vec![],
        sort_by: vec![UsageQuerySortBy {
            field_name: Some("requestCount".into()),
            order: Some(SortOrder::Desc),
        }],
        template_uris: vec![],
        user_ids: vec![],
    };
    insta::assert_json_snapshot!("job_request_full", request);
}

#[test]
fn decoded_job_page() {
    let page: usage_client::models::OrganizationPublicApiUsageResultsResponse =
        serde_json::from_str(&fixture("job_page.json")).unwrap();
    insta::assert_debug_snapshot!(page);
}
