//! `crates/usage-client/src/generated.rs`: the progenitor client over the models crate.

use progenitor::{Generator, HooksMode};
use quote::quote;

use crate::{Error, format, models, spec};

/// The models crate as the client names it.
const MODELS: &str = "::usage_models";

pub fn generate(spec: &openapiv3::OpenAPI) -> Result<String, Error> {
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
    let tokens = Generator::new(&settings)
        .generate_tokens(spec)
        .map_err(|e| Error::Generate(format!("client: {e}")))?;
    format::render(tokens, "the Usage API client")
}
