//! `crates/usage-client/src/generated.rs`: the progenitor client over the models crate.

use progenitor::{Generator, HooksMode};
use quote::quote;

use crate::{Error, format, models, spec};

/// The models crate as the client names it.
const MODELS: &str = "::usage_models";

/// The client's settings: every schema replaced by the models crate's type, and the
/// hand-written runtime as the inner value.
fn settings(spec: &openapiv3::OpenAPI) -> progenitor::GenerationSettings {
    let string_enums = spec::string_enums(spec);
    let mut settings = models::base_settings();
    for name in spec::schema_names(spec) {
        let path = format!("{MODELS}::{name}");
        if string_enums.iter().any(|(n, _, _)| *n == name) {
            settings.with_replacement(&name, &path, models::enum_impls());
        } else {
            settings.with_replacement(&name, &path, std::iter::empty());
        }
    }
    // The hand-written runtime (auth, retries, tracing) rides in the client as its inner
    // value and acts through `ClientHooks`, which the crate must implement.
    settings
        .with_inner_type(quote!(crate::Runtime))
        .with_hooks(HooksMode::Expected);
    settings
}

pub fn generate(spec: &openapiv3::OpenAPI) -> Result<String, Error> {
    let tokens = Generator::new(&settings(spec))
        .generate_tokens(spec)
        .map_err(|e| Error::Generate(format!("client: {e}")))?;
    let mut file = own_path_encoder(tokens)?;
    crate::docs::point_constructors_at_builder(&mut file);
    let tokens = quote!(#file);
    let operations = operation_table(spec)?;
    format::render(
        quote! {
            #tokens
            #operations
        },
        "the Usage API client",
    )
}

/// progenitor's `encode_path` leaves `\` (and other characters URL parsing treats as
/// separators) unescaped, so an id could leave its path segment. The generated code is
/// pointed at the crate's own encoder (`crates/usage-client/src/path_segment.rs`) by
/// taking `encode_path` out of the `progenitor_client` import and importing ours instead.
/// A progenitor whose output no longer has that import fails here rather than silently
/// keeping the old encoder.
fn own_path_encoder(tokens: proc_macro2::TokenStream) -> Result<syn::File, Error> {
    let mut file = syn::parse2::<syn::File>(tokens)
        .map_err(|e| Error::Generate(format!("client: generated tokens do not parse: {e}")))?;
    let mut replaced = false;
    for item in &mut file.items {
        let syn::Item::Use(item_use) = item else {
            continue;
        };
        let syn::UseTree::Path(path) = &mut item_use.tree else {
            continue;
        };
        if path.ident != "progenitor_client" {
            continue;
        }
        let syn::UseTree::Group(group) = &mut *path.tree else {
            continue;
        };
        let before = group.items.len();
        group.items = std::mem::take(&mut group.items)
            .into_iter()
            .filter(|t| !matches!(t, syn::UseTree::Name(n) if n.ident == "encode_path"))
            .collect();
        replaced |= group.items.len() < before;
    }
    if !replaced {
        return Err(Error::Generate(
            "client: progenitor's output no longer imports `progenitor_client::encode_path`; \
             point its path encoding at crate::path_segment another way"
                .into(),
        ));
    }
    file.items.insert(
        0,
        syn::parse_quote! {
            use crate::path_segment::encode_path;
        },
    );
    Ok(file)
}

/// `crates/usage-httpmock/src/generated.rs`: typed httpmock `When`/`Then` extensions of
/// the five operations, for downstream crates' tests.
pub fn generate_httpmock(spec: &openapiv3::OpenAPI) -> Result<String, Error> {
    let tokens = Generator::new(&settings(spec))
        .httpmock(spec, "usage_client")
        .map_err(|e| Error::Generate(format!("httpmock: {e}")))?;
    let mut file = syn::parse2::<syn::File>(tokens)
        .map_err(|e| Error::Generate(format!("httpmock: output does not parse: {e}")))?;
    crate::docs::fill_mock_docs(&mut file, spec);
    format::render(quote!(#file), "typed httpmock extensions of the Usage API")
}

/// A table of the spec's operations, so the hand-written runtime can name them (tracing,
/// retry policy by method) and check a request's path against its template.
fn operation_table(spec: &openapiv3::OpenAPI) -> Result<proc_macro2::TokenStream, Error> {
    let mut rows = Vec::new();
    for (path, item) in spec.paths.iter() {
        let item = item
            .as_item()
            .ok_or_else(|| Error::Generate(format!("{path}: path references are not supported")))?;
        for (method, operation) in item.iter() {
            let operation_id = operation.operation_id.as_deref().ok_or_else(|| {
                Error::Generate(format!(
                    "{method} {path}: every operation needs an operationId"
                ))
            })?;
            // progenitor names `OperationInfo::operation_id` in snake case.
            let name = snake_case(operation_id);
            let method = method.to_ascii_uppercase();
            rows.push(quote! {
                OperationSpec {
                    name: #name,
                    operation_id: #operation_id,
                    method: #method,
                    path: #path,
                }
            });
        }
    }
    Ok(quote! {
        /// One operation of the spec.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct OperationSpec {
            /// The name progenitor gives it (the method name and `OperationInfo::operation_id`).
            pub name: &'static str,
            /// The spec's operationId.
            pub operation_id: &'static str,
            /// The HTTP method, upper case.
            pub method: &'static str,
            /// The path template, e.g. `/api/v2/usage/query/{executionId}/results`.
            pub path: &'static str,
        }

        /// Every operation of the spec, in spec order.
        pub const OPERATIONS: &[OperationSpec] = &[#(#rows),*];
    })
}

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
