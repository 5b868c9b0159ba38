//! `crates/usage-models/src/generated.rs`: the spec's schemas as serde types.

use progenitor::{GenerationSettings, Generator, TypeImpl};
use quote::quote;

use crate::{Error, enums, format, spec};

/// Traits the emitted enums implement, so typify can lean on them (e.g. for defaults).
pub(crate) fn enum_impls() -> impl Iterator<Item = TypeImpl> {
    [
        TypeImpl::FromStr,
        TypeImpl::FromStringIrrefutable,
        TypeImpl::Display,
    ]
    .into_iter()
}

/// Settings shared by the models and the client generation, so both see the same types.
pub(crate) fn base_settings() -> GenerationSettings {
    let mut settings = GenerationSettings::default();
    settings
        .with_derive("PartialEq")
        // A BTreeMap keeps `messageParams` in a stable order for logs and snapshots.
        .with_map_type("::std::collections::BTreeMap");
    settings
}

/// Schemas whose Rust type is hand-written in the models crate (`src/timestamp.rs`):
/// `Timestamp` wraps `chrono::DateTime<Utc>` with a faster decoder for the service's form.
const HAND_WRITTEN: &[&str] = &["Timestamp"];

pub fn generate(spec: &openapiv3::OpenAPI) -> Result<String, Error> {
    let string_enums = spec::string_enums(spec);
    let mut settings = base_settings();
    for (name, _, _) in &string_enums {
        settings.with_replacement(name, name, enum_impls());
    }
    for name in HAND_WRITTEN {
        settings.with_replacement(
            name,
            format!("crate::{name}"),
            [TypeImpl::Display].into_iter(),
        );
    }
    let mut generator = Generator::new(&settings);
    // Generating the client populates the type space; only the types are kept here.
    generator
        .generate_tokens(spec)
        .map_err(|e| Error::Generate(format!("models: {e}")))?;
    let mut structs = syn::parse2::<syn::File>(generator.get_type_space().to_stream())
        .map_err(|e| Error::Generate(format!("models: typify's output does not parse: {e}")))?;
    crate::docs::fill_model_docs(&mut structs, spec);
    let enums = string_enums
        .iter()
        .map(|(name, values, description)| enums::emit(name, values, description.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    format::render(
        quote! {
            #(#enums)*
            #structs
        },
        "the Usage API's schemas as serde types",
    )
}
