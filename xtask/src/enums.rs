//! Forward-compatible string enums.
//!
//! typify emits closed enums: a value the spec does not list fails the whole response.
//! The service adds values (new metrics, new rate-limit namespaces, a `queryStatus` such as
//! `Queued`), so every string enum of the spec is emitted here instead, with an `Unknown`
//! variant that keeps the service's string and serializes back to it unchanged.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::Error;

/// The Rust variant name for a wire value: `web.deployments` -> `WebDeployments`,
/// `OAuthClientId` stays as is.
pub fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for part in value.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

pub fn emit(
    name: &str,
    values: &[String],
    description: Option<&str>,
) -> Result<TokenStream, Error> {
    let ident = format_ident!("{}", name);
    let mut variants = Vec::with_capacity(values.len());
    for value in values {
        let variant = variant_name(value);
        if variant.is_empty() || variant == "Unknown" {
            return Err(Error::Generate(format!(
                "{name}: value {value:?} has no usable variant name"
            )));
        }
        if variants
            .iter()
            .any(|(v, _): &(String, &String)| *v == variant)
        {
            return Err(Error::Generate(format!(
                "{name}: two values map to the variant {variant}"
            )));
        }
        variants.push((variant, value));
    }
    let idents: Vec<_> = variants
        .iter()
        .map(|(v, _)| format_ident!("{}", v))
        .collect();
    let wire: Vec<_> = variants.iter().map(|(_, w)| w.as_str()).collect();
    let variant_docs: Vec<_> = wire.iter().map(|w| format!("`{w}`")).collect();
    let doc = description.unwrap_or(name);
    let open_doc = "Forward compatible: a value this version does not list deserializes to \
        [`Self::Unknown`], which keeps the service's string and serializes back to it.";

    Ok(quote! {
        #[doc = #doc]
        #[doc = ""]
        #[doc = #open_doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #(
                #[doc = #variant_docs]
                #idents,
            )*
            /// A value this version does not list, kept exactly as the service sent it.
            Unknown(crate::UnknownValue),
        }

        impl #ident {
            /// Every value this version lists, as sent on the wire.
            pub const VALUES: &'static [&'static str] = &[#(#wire),*];

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #wire,)*
                    Self::Unknown(value) => value.as_str(),
                }
            }

            /// Whether the value is one this version does not list.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }

            fn known(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #(#wire => ::std::option::Option::Some(Self::#idents),)*
                    _ => ::std::option::Option::None,
                }
            }
        }

        impl ::std::convert::From<&str> for #ident {
            fn from(value: &str) -> Self {
                Self::known(value).unwrap_or_else(|| Self::Unknown(crate::UnknownValue::new(value)))
            }
        }

        impl ::std::convert::From<::std::string::String> for #ident {
            fn from(value: ::std::string::String) -> Self {
                Self::known(&value).unwrap_or_else(|| Self::Unknown(crate::UnknownValue::new_owned(value)))
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(value))
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                crate::open_enum::deserialize(deserializer)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("web.deployments"), "WebDeployments");
        assert_eq!(variant_name("OAuthClientId"), "OAuthClientId");
        assert_eq!(variant_name("Status429"), "Status429");
        assert_eq!(variant_name("3rd.party"), "V3rdParty");
    }

    #[test]
    fn refuses_colliding_and_reserved_names() {
        let clash = ["a.b".to_string(), "a_b".to_string()];
        assert!(emit("X", &clash, None).is_err());
        assert!(emit("X", &["unknown".to_string()], None).is_err());
        assert!(emit("X", &["Day".to_string(), "Week".to_string()], None).is_ok());
    }
}
