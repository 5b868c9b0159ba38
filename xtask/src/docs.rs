//! Doc comments the generators leave out, filled from the spec.
//!
//! typify documents a field from its property's description, but a property that is a
//! `$ref` (OpenAPI 3.0 allows no sibling description) gets none: here it takes the
//! referenced schema's description. progenitor's httpmock output documents nothing below
//! its modules: here each wrapper and method says which operation it mocks and what the
//! real service answers. The published crates build with `--force-warn missing-docs` in CI,
//! so a gap shows there.

use std::collections::HashMap;

use openapiv3::{OpenAPI, ReferenceOr, SchemaKind, Type};
use syn::{Attribute, Fields, ImplItem, Item, TraitItem, parse_quote};

fn has_doc(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn add_doc(attrs: &mut Vec<Attribute>, text: &str) {
    attrs.insert(0, parse_quote!(#[doc = #text]));
}

/// The JSON name of a field: its `#[serde(rename = "...")]`, or its Rust name.
fn json_name(field: &syn::Field) -> Option<String> {
    let mut renamed = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                renamed = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                // Skip `default = ...`, `skip_serializing_if = ...` and the like.
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    renamed.or_else(|| field.ident.as_ref().map(ToString::to_string))
}

fn schema_description(spec: &OpenAPI, name: &str) -> Option<String> {
    let schemas = &spec.components.as_ref()?.schemas;
    match schemas.get(name)? {
        ReferenceOr::Item(schema) => schema.schema_data.description.clone(),
        ReferenceOr::Reference { .. } => None,
    }
}

/// Documents the model structs' fields whose property is a `$ref`.
pub fn fill_model_docs(file: &mut syn::File, spec: &OpenAPI) {
    let Some(components) = &spec.components else {
        return;
    };
    for item in &mut file.items {
        let Item::Struct(item) = item else {
            continue;
        };
        let Some(ReferenceOr::Item(schema)) = components.schemas.get(&item.ident.to_string())
        else {
            continue;
        };
        let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
            continue;
        };
        let Fields::Named(fields) = &mut item.fields else {
            continue;
        };
        for field in &mut fields.named {
            if has_doc(&field.attrs) {
                continue;
            }
            let Some(property) = json_name(field).and_then(|n| object.properties.get(&n)) else {
                continue;
            };
            let target = match property {
                ReferenceOr::Reference { reference } => reference.rsplit('/').next(),
                ReferenceOr::Item(_) => None,
            };
            if let Some(text) = target.and_then(|t| schema_description(spec, t)) {
                add_doc(&mut field.attrs, &text);
            }
        }
    }
}

/// What the mocks need to know of an operation.
struct Operation {
    operation_id: String,
    method: String,
    path: String,
    /// The 2xx statuses the spec lists.
    success: Vec<String>,
}

fn operations(spec: &OpenAPI) -> HashMap<String, Operation> {
    let mut out = HashMap::new();
    for (path, item) in spec.paths.iter() {
        let Some(item) = item.as_item() else {
            continue;
        };
        for (method, op) in item.iter() {
            let Some(id) = &op.operation_id else {
                continue;
            };
            let success = op
                .responses
                .responses
                .keys()
                .map(ToString::to_string)
                .filter(|s| s.starts_with('2'))
                .collect();
            out.insert(
                crate::import::pascal(id),
                Operation {
                    operation_id: id.clone(),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    success,
                },
            );
        }
    }
    out
}

/// The status usage-fake and, as far as upstream says, the service answer with.
fn answer_note(op: &Operation) -> String {
    if op.success.iter().any(|s| s == "202") {
        format!(
            "`{}` answers 200 or 202 with the same body (upstream lists both); usage-fake answers \
             202, so `accepted` is the closer mock. The client accepts either.",
            op.operation_id
        )
    } else {
        format!("`{}` answers 200 when it succeeds.", op.operation_id)
    }
}

fn method_doc(name: &str, op: &Operation, when: bool) -> String {
    let path_param = |param: &str| {
        format!(
            "Matches requests whose `{param}` path segment is `value`. The value goes into a \
             regular expression as it is: escape ids that hold regex metacharacters."
        )
    };
    match (when, name) {
        (true, "new") => format!(
            "Wraps httpmock's `When`, matching `{} {}` (any value of the path parameters).",
            op.method, op.path
        ),
        (false, "new") => "Wraps httpmock's `Then`.".to_string(),
        (_, "into_inner") => {
            "The httpmock value inside, to match or answer beyond what the spec allows.".to_string()
        }
        (true, "body") => "Matches requests whose JSON body equals `value`.".to_string(),
        (true, "execution_id") => path_param("executionId"),
        (true, "client_id") => path_param("clientId"),
        (true, "job_id") => path_param("jobId"),
        (true, other) => format!("Matches requests whose `{other}` query parameter is `value`."),
        (false, "ok") => format!("Answers 200 with `value` as JSON. {}", answer_note(op)),
        (false, "accepted") => format!("Answers 202 with `value` as JSON. {}", answer_note(op)),
        (false, "client_error") => {
            "Answers `status` (400 to 499; another status panics) with `value` as JSON, as the \
             service answers a refused request."
                .to_string()
        }
        (false, "server_error") => {
            "Answers `status` (500 to 599; another status panics) with `value` as JSON, as the \
             service answers when it fails."
                .to_string()
        }
        (false, other) => format!("Answers with `{other}`."),
    }
}

/// Documents the httpmock wrappers, their methods and the `MockServerExt` methods.
pub fn fill_mock_docs(file: &mut syn::File, spec: &OpenAPI) {
    let ops = operations(spec);
    let find = |name: &str| -> Option<(&Operation, bool)> {
        let (base, when) = match (name.strip_suffix("When"), name.strip_suffix("Then")) {
            (Some(base), _) => (base, true),
            (_, Some(base)) => (base, false),
            _ => return None,
        };
        ops.get(base).map(|op| (op, when))
    };
    for item in &mut file.items {
        match item {
            Item::Mod(module) => {
                let Some((_, items)) = &mut module.content else {
                    continue;
                };
                for item in items {
                    match item {
                        Item::Struct(s) if !has_doc(&s.attrs) => {
                            if let Some((op, when)) = find(&s.ident.to_string()) {
                                let text = if when {
                                    format!(
                                        "What a mock of `{}` (`{} {}`) matches.",
                                        op.operation_id, op.method, op.path
                                    )
                                } else {
                                    format!(
                                        "What a mock of `{}` (`{} {}`) answers.",
                                        op.operation_id, op.method, op.path
                                    )
                                };
                                add_doc(&mut s.attrs, &text);
                            }
                        }
                        Item::Impl(block) => {
                            let syn::Type::Path(ty) = &*block.self_ty else {
                                continue;
                            };
                            let Some(name) = ty.path.segments.last().map(|s| s.ident.to_string())
                            else {
                                continue;
                            };
                            let Some((op, when)) = find(&name) else {
                                continue;
                            };
                            for member in &mut block.items {
                                if let ImplItem::Fn(f) = member
                                    && !has_doc(&f.attrs)
                                {
                                    let text = method_doc(&f.sig.ident.to_string(), op, when);
                                    add_doc(&mut f.attrs, &text);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Item::Trait(t) => {
                for member in &mut t.items {
                    let TraitItem::Fn(f) = member else {
                        continue;
                    };
                    if has_doc(&f.attrs) {
                        continue;
                    }
                    let method = f.sig.ident.to_string();
                    let op = ops
                        .values()
                        .find(|op| crate::spec::snake_case(&op.operation_id) == method);
                    if let Some(op) = op {
                        let text = format!(
                            "Mocks `{}` (`{} {}`): `config_fn` gets what to match and what to \
                             answer.",
                            op.operation_id, op.method, op.path
                        );
                        add_doc(&mut f.attrs, &text);
                    }
                }
            }
            _ => {}
        }
    }
}
