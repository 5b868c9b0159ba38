//! Loading the OpenAPI document.

use crate::Error;

pub fn parse(text: &str) -> Result<openapiv3::OpenAPI, Error> {
    let spec: openapiv3::OpenAPI =
        serde_yaml::from_str(text).map_err(|e| Error::Spec(e.to_string()))?;
    if !spec.openapi.starts_with("3.0.") {
        return Err(Error::Spec(format!(
            "progenitor reads OpenAPI 3.0.x, this document is {}",
            spec.openapi
        )));
    }
    Ok(spec)
}

/// The component schemas that are plain string enums, in spec order, with their values
/// and description.
pub fn string_enums(spec: &openapiv3::OpenAPI) -> Vec<(String, Vec<String>, Option<String>)> {
    use openapiv3::{ReferenceOr, SchemaKind, StringType, Type};
    let Some(components) = &spec.components else {
        return Vec::new();
    };
    components
        .schemas
        .iter()
        .filter_map(|(name, schema)| {
            let ReferenceOr::Item(schema) = schema else {
                return None;
            };
            match &schema.schema_kind {
                SchemaKind::Type(Type::String(StringType { enumeration, .. }))
                    if !enumeration.is_empty() =>
                {
                    let values = enumeration.iter().flatten().cloned().collect();
                    Some((name.clone(), values, schema.schema_data.description.clone()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Every component schema name, in spec order.
pub fn schema_names(spec: &openapiv3::OpenAPI) -> Vec<String> {
    spec.components
        .iter()
        .flat_map(|c| c.schemas.keys().cloned())
        .collect()
}

/// The name progenitor gives an operation's method (and `OperationInfo::operation_id`):
/// its operationId in snake case.
pub(crate) fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
