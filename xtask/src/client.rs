//! The client crate's three generated files: `generated.rs`, progenitor's client over the
//! models crate, used only to build each operation's request; `operations.rs`, the table of
//! the spec's operations; and `api.rs`, the facade users call, one method per operation
//! with progenitor's name, parameters and docs, returning `Result<T, UsageError>` and
//! handing the built request to the request pipeline.

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
    // progenitor's client only builds requests: its `pre` hook (crate::bridge) takes the
    // request out into the slot it carries as its inner value, and the pipeline sends it.
    settings
        .with_inner_type(quote!(crate::slot::Slot))
        .with_hooks(HooksMode::Expected);
    settings
}

/// The three files, in the order `generated.rs`, `operations.rs`, `api.rs`.
pub fn generate(spec: &openapiv3::OpenAPI) -> Result<[String; 3], Error> {
    let tokens = Generator::new(&settings(spec))
        .generate_tokens(spec)
        .map_err(|e| Error::Generate(format!("client: {e}")))?;
    let file = own_path_encoder(tokens)?;
    let table = operation_table(spec)?;
    let facade = facade(&file, &table)?;
    let rows = table.iter().map(OperationRow::tokens);
    let operations = quote! {
        /// One operation of the spec.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct OperationSpec {
            /// The method name (snake case of the operationId).
            pub name: &'static str,
            /// The spec's operationId.
            pub operation_id: &'static str,
            /// The HTTP method, upper case.
            pub method: &'static str,
            /// The path template, e.g. `/api/v2/usage/query/{executionId}/results`.
            pub path: &'static str,
            /// The success statuses the spec documents.
            pub success: &'static [u16],
        }

        /// Every operation of the spec, in spec order.
        pub const OPERATIONS: &[OperationSpec] = &[#(#rows),*];
    };
    Ok([
        format::render(
            quote!(#file),
            "the Usage API client (request building only)",
        )?,
        format::render(operations, "the Usage API's operations")?,
        format::render(facade, "the Usage API's operations on `Client`")?,
    ])
}

/// One row of the operation table.
struct OperationRow {
    name: String,
    operation_id: String,
    method: String,
    path: String,
    success: Vec<u16>,
}

impl OperationRow {
    fn tokens(&self) -> proc_macro2::TokenStream {
        let Self {
            name,
            operation_id,
            method,
            path,
            success,
        } = self;
        quote! {
            OperationSpec {
                name: #name,
                operation_id: #operation_id,
                method: #method,
                path: #path,
                success: &[#(#success),*],
            }
        }
    }
}

/// Results whose rows can number hundreds of thousands are decoded as the body arrives.
const STREAMED_RESULTS: &[&str] = &["ApiUsageQueryResult"];

/// `api.rs`: for each of progenitor's operation methods, a method of the same name,
/// parameters and docs on the crate's `Client`, returning `Result<T, crate::UsageError>`.
/// progenitor's method builds the request (crate::bridge takes it); the pipeline runs it.
fn facade(file: &syn::File, table: &[OperationRow]) -> Result<proc_macro2::TokenStream, Error> {
    let mut methods = Vec::new();
    for item in &file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let is_client = matches!(&*block.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client || block.trait_.is_some() {
            continue;
        }
        for member in &block.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            let name = f.sig.ident.to_string();
            let Some(index) = table.iter().position(|row| row.name == name) else {
                continue;
            };
            methods.push(facade_method(f, index)?);
        }
    }
    if methods.len() != table.len() {
        return Err(Error::Generate(format!(
            "client: progenitor's output has {} operation methods, the spec {} operations",
            methods.len(),
            table.len()
        )));
    }
    Ok(quote! {
        impl crate::Client {
            #(#methods)*
        }
    })
}

fn facade_method(f: &syn::ImplItemFn, index: usize) -> Result<proc_macro2::TokenStream, Error> {
    let name = &f.sig.ident;
    let fail = |why: &str| Error::Generate(format!("client: {name}: {why}"));
    let docs = f.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let mut params = Vec::new();
    let mut args = Vec::new();
    for input in f.sig.inputs.iter().skip(1) {
        let syn::FnArg::Typed(typed) = input else {
            return Err(fail("a second receiver"));
        };
        let syn::Pat::Ident(ident) = &*typed.pat else {
            return Err(fail("a parameter that is not a plain name"));
        };
        let mut ty = (*typed.ty).clone();
        strip_lifetimes(&mut ty);
        let arg = &ident.ident;
        params.push(quote!(#arg: #ty));
        args.push(quote!(#arg));
    }
    let output = success_type(&f.sig.output)
        .ok_or_else(|| fail("the return type is not Result<ResponseValue<T>, Error<E>>"))?;
    let streamed = matches!(&output, syn::Type::Path(p)
        if p.path.segments.last().is_some_and(|s| STREAMED_RESULTS.contains(&s.ident.to_string().as_str())));
    let decoder = if streamed {
        quote!(crate::pipeline::Rows)
    } else {
        quote!(crate::pipeline::Whole<#output>)
    };
    Ok(quote! {
        #(#docs)*
        ///
        /// Runs through the client's pipeline: authentication, retries, caps and typed errors
        /// ([`UsageError`](crate::UsageError)) as for every operation.
        pub async fn #name(&self, #(#params),*) -> Result<#output, crate::UsageError> {
            let raw = crate::bridge::Raw::new(self);
            let request = raw.capture(raw.client().#name(#(#args),*)).await?;
            self.pipeline()
                .invoke::<#decoder>(&crate::operations::OPERATIONS[#index], request)
                .await
        }
    })
}

/// `&'a T` becomes `&T`: the facade's methods borrow for the call only.
fn strip_lifetimes(ty: &mut syn::Type) {
    use syn::visit_mut::VisitMut;
    struct Strip;
    impl VisitMut for Strip {
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            r.lifetime = None;
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
    }
    Strip.visit_type_mut(ty);
}

/// `T` of `Result<ResponseValue<T>, Error<E>>`.
fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let first_arg = |ty: &syn::Type, outer: &str| -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let last = p.path.segments.last()?;
        if last.ident != outer {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        match args.args.first()? {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }
    };
    first_arg(&first_arg(ty, "Result")?, "ResponseValue")
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
            use crate::transport::path_segment::encode_path;
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
    let text = format::render(quote!(#file), "typed httpmock extensions of the Usage API")?;
    Ok(match_each_array_value(&text))
}

/// progenitor 0.15's httpmock matcher of an array query parameter (`expand`, sent once per
/// value) calls `to_string()` on the `Vec`, which does not compile: the matcher is rewritten
/// to require each value as its own `name=value` pair, as the client sends them.
fn match_each_array_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let marker = "T: Into<Option<&'a ::std::vec::Vec<";
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let call_start = after.find("Self(self.0.query_param(\"");
        let Some(call_start) = call_start else {
            out.push_str(after);
            return out;
        };
        let call = &after[call_start..];
        let name_end = call["Self(self.0.query_param(\"".len()..]
            .find('"')
            .map(|n| n + "Self(self.0.query_param(\"".len());
        let Some(name_end) = name_end else {
            out.push_str(after);
            return out;
        };
        let name = &call["Self(self.0.query_param(\"".len()..name_end];
        let old = format!("Self(self.0.query_param(\"{name}\", value.to_string()))");
        let new = format!(
            "Self(value.iter().fold(self.0, |when, item| when.query_param(\"{name}\", item.to_string())))"
        );
        let end = call_start + old.len();
        if after[call_start..].starts_with(&old) {
            out.push_str(&after[..call_start]);
            out.push_str(&new);
            rest = &after[end..];
        } else {
            out.push_str(&after[..marker.len()]);
            rest = &after[marker.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// The spec's operations, so the hand-written pipeline can name them (tracing, retries
/// by method), check a request's path against its template, and know its success statuses.
fn operation_table(spec: &openapiv3::OpenAPI) -> Result<Vec<OperationRow>, Error> {
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
            let success: Vec<u16> = operation
                .responses
                .responses
                .keys()
                .filter_map(|code| match code {
                    openapiv3::StatusCode::Code(n) if (200..300).contains(n) => Some(*n),
                    _ => None,
                })
                .collect();
            if success.is_empty() {
                return Err(Error::Generate(format!(
                    "{operation_id}: the spec documents no 2xx answer"
                )));
            }
            rows.push(OperationRow {
                // progenitor names the method and `OperationInfo::operation_id` in snake case.
                name: crate::spec::snake_case(operation_id),
                operation_id: operation_id.to_string(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                success,
            });
        }
    }
    Ok(rows)
}
