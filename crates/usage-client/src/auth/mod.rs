//! Access tokens: where they come from, how long they are kept, and what failure means.

mod client_credentials;
mod source;

pub(crate) use client_credentials::TokenFetching;
pub use client_credentials::{ClientCredentials, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
pub(crate) use source::bearer_value;
pub use source::{StaticToken, TokenSource};
