#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[rustfmt::skip]
#[allow(clippy::all, rustdoc::all)]
mod generated;

mod auth;
mod body;
mod carry;
mod clock;
mod config;
mod deadline;
mod error;
mod path_guard;
mod path_segment;
mod proxy;
mod region;
mod retry;
mod runtime;
mod secret;
mod streamed;
mod streaming;
mod tls;

pub use auth::{
    AuthError, ClientCredentials, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME, StaticToken, TokenSource,
};
pub use body::{DEFAULT_MAX_RESPONSE_BYTES, MAX_ERROR_BODY_BYTES, MAX_TOKEN_BODY_BYTES};
pub use clock::{BoxFuture, Clock, TokioClock};
pub use config::{ClientBuilder, ConfigError, env};
pub use deadline::with_deadline;
pub use error::UsageError;
pub use generated::*;
pub use region::{Endpoints, Region, UnknownRegion};
pub use retry::{RetryPolicy, retry_after};
pub use runtime::{CORRELATION_ID_HEADER, Runtime, UNREADABLE_ERROR_BODY, USER_AGENT_VALUE};
pub use secret::Secret;
/// The models crate, re-exported so one dependency is enough.
pub use usage_models as models;
